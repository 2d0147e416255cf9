// Running the real command line (the TypeScript source through tsx) as a child process.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';

export const ROOT = path.resolve(new URL('../..', import.meta.url).pathname);
export const CLI = path.join(ROOT, 'src', 'cli.ts');
/** tsx, resolved from here: the CLI may run in a directory outside the project (cwd). */
const TSX = import.meta.resolve('tsx');

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `portcullis ARGS` to completion. */
export function runCli(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', TSX, CLI, ...args], {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, ...options.env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface RunningCli {
  readonly child: ChildProcess;
  /** Every JSON log line so far. */
  readonly lines: Record<string, unknown>[];
  readonly stderr: () => string;
  /** Resolves with the first log line that satisfies `predicate`. */
  waitFor(predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
}

/** Starts a long-running command (the gateway) and follows its JSON log on stdout. */
export function startCli(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; group?: boolean } = {}): RunningCli {
  return startProcess(process.execPath, ['--import', TSX, CLI, ...args], options);
}

/**
 * Any long-running command whose stdout carries the gateway's JSON log (such as `npm start`). With
 * `group`, it leads a process group of its own, for commands that start the gateway as a grandchild:
 * stop it with process.kill(-child.pid, signal).
 */
export function startProcess(file: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; group?: boolean } = {}): RunningCli {
  const child = spawn(file, args, {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, ...options.env },
    detached: options.group ?? false,
  });
  const lines: Record<string, unknown>[] = [];
  const waiters: { predicate: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c));
  readline.createInterface({ input: child.stdout! }).on('line', (text) => {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
    } catch {
      line = { text };
    }
    lines.push(line);
    for (const w of [...waiters]) {
      if (w.predicate(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    lines,
    stderr: () => stderr,
    exited,
    waitFor(predicate, timeoutMs = 15_000) {
      const found = lines.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching log line within ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
        waiters.push({ predicate, resolve: (l) => (clearTimeout(timer), resolve(l)) });
        void exited.then((code) => {
          clearTimeout(timer); // or a process that exited keeps the test file waiting for the timeout
          reject(new Error(`exited with ${code} before the log line; stderr: ${stderr}`));
        });
      });
    },
  };
}
