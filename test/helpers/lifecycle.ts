// Gateways and upstreams a test starts, closed after each test whatever it asserted: hand each one to the
// function `closedAfterEach()` returns as it starts. Closed newest first, so a gateway goes before the
// upstreams it was started on.
import { afterEach } from 'node:test';

export function closedAfterEach(): <T extends { close(): Promise<void> }>(thing: T) => T {
  const open: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const thing of open.splice(0).reverse()) await thing.close();
  });
  return (thing) => {
    open.push(thing);
    return thing;
  };
}
