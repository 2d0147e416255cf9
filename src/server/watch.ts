// Watching gateway.yaml. The directory is watched, not the file: editors save by writing a new file and
// renaming it over the old one, and Kubernetes swaps a symlink, both of which a file watch loses. A
// change is acted on only when the file's content really changed.
import { createHash } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';

export interface ConfigWatcher {
  close(): void;
}

const SETTLE_MS = 150;

export function watchConfig(file: string, onChange: () => void): ConfigWatcher {
  const resolved = path.resolve(file);
  let lastHash = hashOf(resolved);
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  const check = () => {
    const hash = hashOf(resolved);
    // A missing file is the middle of a save, or a mistake: either way nothing to load yet.
    if (hash === undefined || hash === lastHash) return;
    lastHash = hash;
    onChange();
  };
  try {
    watcher = watch(path.dirname(resolved), { persistent: false }, () => {
      clearTimeout(timer);
      timer = setTimeout(check, SETTLE_MS);
    });
  } catch {
    watcher = undefined;
  }
  return {
    close() {
      clearTimeout(timer);
      watcher?.close();
    },
  };
}

function hashOf(file: string): string | undefined {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex');
  } catch {
    return undefined;
  }
}
