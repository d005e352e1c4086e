/** The compiled CLI run to its end or in the background, for the queue benchmarks (npm run build first). */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const arq = path.join(root, 'bin/arq.js');

/** Runs arq; `done` gives its wall seconds and output lines (rejects on failure, except after kill()). */
export function runArq(args: readonly string[], onLine?: (line: string) => void): { done: Promise<{ seconds: number; lines: string[] }>; kill: () => void } {
  const start = performance.now();
  const child = spawn(arq, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const feed = (chunk: Buffer) => chunk.toString().split('\n').filter(Boolean).forEach((l) => {
    lines.push(l);
    onLine?.(l);
  });
  child.stdout.on('data', feed);
  child.stderr.on('data', feed);
  const done = new Promise<{ seconds: number; lines: string[] }>((resolve, reject) => child.once('exit', (code) => {
    if (code !== 0 && child.signalCode !== 'SIGTERM') reject(new Error(`arq ${args[0]} failed:\n${lines.join('\n')}`));
    else resolve({ seconds: (performance.now() - start) / 1000, lines });
  }));
  return { done, kill: () => child.kill('SIGTERM') };
}

/** `count` `arq worker`s on the queue at `url` (one thread each), resolved once each is taking jobs. */
export async function startWorkers(url: string, count: number): Promise<ReturnType<typeof runArq>[]> {
  const workers = Array.from({ length: count }, () => {
    let ready: () => void = () => {};
    const up = new Promise<void>((resolve) => (ready = resolve));
    const w = runArq(['worker', '--queue', url, '--threads', '1'], (l) => l.includes('worker on') && ready());
    return { ...w, up };
  });
  await Promise.all(workers.map((w) => w.up));
  return workers;
}
