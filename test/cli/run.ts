// Runs the CLI as a user does: the committed launcher bin/arq.js executed as a program, as `npx arq` does (so a
// launcher without its executable bit fails), running the compiled dist/ (npm test compiles it first).
import { execFile } from 'node:child_process';
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
