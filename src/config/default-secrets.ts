// A provider whose secret is the ${VAR:-fallback} written in the config file verifies tokens anyone who has
// read the file (the repository, the image) can mint. That is what the demo is for, and nothing else: a
// gateway refuses to serve with such a secret unless told, by name, that this is what is wanted.
import type { LoadedConfig } from './load.ts';
import type { ConfigProblem } from './problems.ts';
import { problemAt } from './source.ts';

/** The environment variable that allows it; the CLI's --allow-default-secrets and the demo do the same. */
export const ALLOW_DEFAULT_SECRETS = 'PORTCULLIS_ALLOW_DEFAULT_SECRETS';

export function defaultSecretsAllowed(env: NodeJS.ProcessEnv, flag = false): boolean {
  const value = env[ALLOW_DEFAULT_SECRETS]?.toLowerCase();
  return flag || value === '1' || value === 'true';
}

/** One error per provider whose secret is a fallback, at that secret, naming the variable to set. */
export function defaultSecretProblems(loaded: LoadedConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  (loaded.config.providers ?? []).forEach((provider, i) => {
    const variables = loaded.defaulted.get(`providers.${i}.secret`);
    if (variables === undefined) return;
    const names = variables.join(' and ');
    problems.push(
      problemAt(
        loaded.source,
        ['providers', i, 'secret'],
        'default_secret',
        `${names} is not set, so provider "${provider.name}" would verify tokens with the fallback secret written in this file, which anyone who has read it can sign tokens with. ` +
          `Set ${names} (32 or more random bytes); to try Portcullis out with the fallback anyway, set ${ALLOW_DEFAULT_SECRETS}=1 or pass --allow-default-secrets (the demo does, unless NODE_ENV=production)`,
      ),
    );
  });
  return problems;
}
