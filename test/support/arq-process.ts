// `arq` run in the background as users run it (the compiled CLI, bin/arq.js), for the queue tests: its output
// lines collected, a wait for a line, and how many times each job was started, from workers' logs.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { root } from '../cli/run.js';

export interface Running {
  readonly child: ChildProcess;
  readonly lines: string[];
  waitFor(pattern: RegExp): Promise<RegExpMatchArray>;
  readonly exited: Promise<number | null>;
}

/** Every process spawnArq started and killStarted has not yet stopped. */
const started: Running[] = [];

/** `arq ...args` in the background, its stdout and stderr lines collected. */
export function spawnArq(args: readonly string[]): Running {
  const child = spawn(path.join(root, 'bin/arq.js'), args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters: { pattern: RegExp; resolve: (m: RegExpMatchArray) => void; reject: (e: Error) => void }[] = [];
  const feed = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) {
      lines.push(line);
      for (const w of [...waiters]) {
        const m = line.match(w.pattern);
        if (m) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(m);
        }
      }
    }
  };
  child.stdout.on('data', feed);
  child.stderr.on('data', feed);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    for (const w of waiters.splice(0)) w.reject(new Error(`arq ${args[0]} exited (${code}) before printing ${w.pattern}:\n${lines.join('\n')}`));
    resolve(code);
  }));
  const running: Running = {
    child, lines, exited,
    waitFor: (pattern) => {
      const seen = lines.map((l) => l.match(pattern)).find(Boolean);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => waiters.push({ pattern, resolve, reject }));
    },
  };
  started.push(running);
  return running;
}

/** SIGKILLs what spawnArq started that still runs (a test's own processes only). */
export function killStarted(): void {
  for (const r of started.splice(0)) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
}

/** `arq worker` on the queue at `url`, declaring a job stalled after 1 s; `extra` defaults to one thread. */
export const spawnWorker = (url: string, ...extra: string[]) => spawnArq(['worker', '--queue', url, '--stalled-seconds', '1', ...(extra.length ? extra : ['--threads', '1'])]);

/** How many times each job was started, from the workers' logs. */
export function starts(...workers: Running[]): Map<string, number> {
  const count = new Map<string, number>();
  for (const w of workers) for (const l of w.lines) {
    const m = / job (\S+): positions/.exec(l);
    if (m) count.set(m[1], (count.get(m[1]) ?? 0) + 1);
  }
  return count;
}
