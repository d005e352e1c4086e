// Runs the CLI as a user does: the committed launcher bin/arq.js executed as a program, as `npx arq` does (so a
// launcher without its executable bit fails), running the compiled dist/ (npm test compiles it first).
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeNpySync } from '../../src/data/index.js';
import { Random } from '../../src/util/random.js';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const run = promisify(execFile);

export interface ArqRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** `arq ...args` from the repository root; `uid` runs it as another user (root may: see asUnprivileged). */
export async function arq(args: readonly string[], options: { uid?: number; gid?: number } = {}): Promise<ArqRun> {
  try {
    const { stdout, stderr } = await run(path.join(root, 'bin/arq.js'), args, { cwd: root, ...options });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/**
 * Options that make arq run without the privilege to ignore file permissions: as user and group nobody (65534)
 * when the tests run as root, who may write anywhere; as the current user otherwise.
 */
export function asUnprivileged(): { uid?: number; gid?: number } {
  return process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
}

/**
 * A device that discards what is written to it, for tests of outputs that are devices: a null device node made in
 * `dir` when the tests run as root (so that a broken write, which root could rename over /dev/null itself, harms
 * nothing), else /dev/null, which only root could replace.
 */
export function nullDevice(dir: string): string {
  if (process.getuid?.() !== 0) return '/dev/null';
  const node = path.join(dir, 'null-device');
  if (!existsSync(node)) execFileSync('mknod', ['-m', '666', node, 'c', '1', '3']);
  return node;
}

/** 32 random 28x28 grey images with labels 0..9 written as x.npy and y.npy in `dir`, as the data spec npy:X,Y. */
export function randomMnistNpy(dir: string, seed: number): string {
  const random = Random.fromSeed(seed);
  const x = path.join(dir, 'x.npy');
  const y = path.join(dir, 'y.npy');
  writeNpySync(x, Float32Array.from({ length: 32 * 28 * 28 }, () => random.uniform()), [32, 1, 28, 28]);
  writeNpySync(y, Int32Array.from({ length: 32 }, () => random.integer(10)), [32]);
  return `npy:${x},${y}`;
}
