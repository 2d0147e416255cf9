// trust_proxy: whose X-Forwarded-* headers are kept. Everyone else's are replaced by what the gateway saw.
import { BlockList, isIP } from 'node:net';
import { clientAddress } from './headers.ts';

export interface TrustPolicy {
  trusts(address: string): boolean;
}

export const TRUST_NOBODY: TrustPolicy = { trusts: () => false };
export const TRUST_EVERYONE: TrustPolicy = { trusts: () => true };

/** "10.0.0.0/8", "2001:db8::/32" or a single address. Returns undefined when the text is not one. */
export function parseCidr(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const parts = text.trim().split('/');
  if (parts.length > 2) return undefined;
  const [address = '', prefixText] = parts;
  const version = isIP(address);
  if (version === 0) return undefined;
  const max = version === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max || (prefixText !== undefined && !/^\d+$/.test(prefixText))) {
    return undefined;
  }
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

export function trustPolicy(setting: boolean | readonly string[]): TrustPolicy {
  if (setting === true) return TRUST_EVERYONE;
  if (setting === false || setting.length === 0) return TRUST_NOBODY;
  const list = new BlockList();
  for (const text of setting) {
    const cidr = parseCidr(text);
    if (cidr) list.addSubnet(cidr.address, cidr.prefix, cidr.family);
  }
  return {
    trusts: (address) => {
      const version = isIP(address);
      return version !== 0 && list.check(address, version === 4 ? 'ipv4' : 'ipv6');
    },
  };
}

/**
 * The client a request comes from, as trust_proxy defines it (the ip key of rate limits): the peer itself,
 * unless it is a trusted proxy; then X-Forwarded-For is read from the right, past every trusted proxy, up to
 * the first address that is not one. Everything left of that was written by the client and proves nothing.
 * With trust_proxy: true every hop is trusted, so the leftmost address wins: any client can choose it.
 */
export function originalClient(remote: string, forwardedFor: string | undefined, policy: TrustPolicy): string {
  const peer = clientAddress(remote);
  if (forwardedFor === undefined || !policy.trusts(peer)) return peer;
  const hops = forwardedFor.split(',');
  let client = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = clientAddress(hops[i]!.trim());
    if (hop === '') break;
    client = hop;
    if (!policy.trusts(hop)) break;
  }
  return client;
}
