// Waiting for what a test can not be told about directly (a health check's verdict, an ejection's end),
// by asking again until it holds: a test never assumes how long anything takes.
import assert from 'node:assert/strict';

export async function until(check: () => boolean | Promise<boolean>, what: string, tries = 500): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** The value of one Prometheus sample (`labels` as written between the braces), 0 when absent. */
export function sample(metrics: string, name: string, labels: string): number {
  const line = metrics.split('\n').find((l) => l.startsWith(`${name}{${labels}}`) || (labels === '' && l.startsWith(`${name} `)));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}
