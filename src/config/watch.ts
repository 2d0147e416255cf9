// Watching gateway.yaml (and the key files it names: jwks_file). Two sources of change notices, because each misses what the other sees:
// - the directory is watched, not the file: editors save by writing a new file and renaming it over the
//   old one, and Kubernetes swaps a "..data" symlink, both of which a watch on the file itself loses;
// - the file's status is polled once a second: a file edited through another path (a single-file Docker
//   bind mount, a config symlinked from elsewhere) changes without any event in this directory.
// A change is acted on only when the file's content really changed.
import { createHash } from 'node:crypto';
import { readFileSync, stat, statSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';

export interface ConfigWatcher {
  close(): void;
}

/** Editors write in several steps: wait for the events to settle before reading... */
const SETTLE_MS = 150;
/** ...but not for ever: a neighbouring file that changes all the time (a log) must not starve the config. */
const MAX_WAIT_MS = 1000;
const POLL_MS = 1000;

export function watchFile(file: string, onChange: () => void): ConfigWatcher {
  const resolved = path.resolve(file);
  const name = path.basename(resolved);
  let lastHash = hashOf(resolved);
  let timer: NodeJS.Timeout | undefined;
  let firstNoticeAt = 0;
  const check = () => {
    timer = undefined;
    const hash = hashOf(resolved);
    // A missing file is the middle of a save, or a mistake: either way nothing to load yet.
    if (hash === undefined || hash === lastHash) return;
    lastHash = hash;
    onChange();
  };
  const notice = () => {
    const now = Date.now();
    if (timer === undefined) firstNoticeAt = now;
    clearTimeout(timer);
    timer = setTimeout(check, now - firstNoticeAt >= MAX_WAIT_MS ? 0 : SETTLE_MS);
  };

  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(path.dirname(resolved), { persistent: false }, (_event, changed) => {
      // The file itself, a Kubernetes ConfigMap's "..data" swap, or an event that names nothing.
      if (changed === null || changed === name || changed.startsWith('..')) notice();
    });
  } catch {
    watcher = undefined; // the poll still sees changes
  }
  // The baseline is taken now, with the first hash, so that no write after this call goes unseen.
  let lastStatus = statusOf(resolved);
  const poll = setInterval(() => {
    stat(resolved, (err, now) => {
      const status = err ? 'missing' : `${now.ino}:${now.size}:${now.mtimeMs}`;
      if (status === lastStatus) return;
      lastStatus = status;
      notice();
    });
  }, POLL_MS);
  poll.unref();

  return {
    close() {
      clearTimeout(timer);
      clearInterval(poll);
      watcher?.close();
    },
  };
}

function statusOf(file: string): string {
  try {
    const now = statSync(file);
    return `${now.ino}:${now.size}:${now.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

function hashOf(file: string): string | undefined {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex');
  } catch {
    return undefined;
  }
}
