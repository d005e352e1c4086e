/**
 * File reads for the data loaders, turning fs failures into ArqErrors that name the file.
 */
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { ArqError } from '../util/errors.js';

function reason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EISDIR') return 'is a directory';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return err instanceof Error ? err.message : String(err);
}

/** Read a whole file; `label` prefixes the error (e.g. 'idx:/x/images'), `what` says which file it was. */
export async function readDataFile(path: string, label: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new ArqError(`${label}: cannot read ${what}: ${reason(err)}`, { cause: err });
  }
}

export function readDataFileSync(path: string, label: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ArqError(`${label}: cannot read ${what}: ${reason(err)}`, { cause: err });
  }
}
