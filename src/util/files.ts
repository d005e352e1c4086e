/**
 * Output files: the one rule every command's outputs follow (checkOutputs, run before any long work), and writes
 * that never leave a half-written file behind (writeFileAtomic).
 */
import { randomBytes } from 'node:crypto';
import { accessSync, closeSync, constants, fsyncSync, openSync, renameSync, rmSync, statSync, writeFileSync, writeSync, type Stats } from 'node:fs';
import path from 'node:path';
import { ArqError } from './errors.js';

function statOrNull(file: string): Stats | null {
  try {
    return statSync(file);
  } catch {
    return null;
  }
}

/** A device or a pipe (/dev/null, /dev/stdout): written in place, since there is nothing to rename over. */
function isSpecial(info: Stats): boolean {
  return !info.isFile() && !info.isDirectory();
}

export interface OutputRule {
  /** The flag that named the output, for messages: '--out', '--logits'. */
  readonly flag: string;
  /** Every path the command reads (model, data files, policy, checkpoint...); undefined entries are skipped. */
  readonly inputs: readonly (string | undefined)[];
  /** Replace existing files (the command's --overwrite). */
  readonly overwrite: boolean;
  /**
   * Accept a device or pipe such as /dev/null as the output, written in place. Commands that write further files
   * beside their output (FILE.summary.json, OUT.policy.json) leave this off and refuse them.
   */
  readonly allowSpecial?: boolean;
  /** The output is a directory, created when missing (search --out); it may exist. */
  readonly directory?: boolean;
  /** The command can continue an interrupted run with --resume (said in the message about an existing file). */
  readonly resumable?: boolean;
}

function why(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EACCES' || code === 'EPERM') return `permission denied (${code})`;
  if (code === 'EROFS') return 'read-only file system (EROFS)';
  return error instanceof Error ? error.message : String(error);
}

/**
 * The rule for output files, checked before a command does any long work: an output is never one of the command's
 * inputs (compared by device and inode, so symbolic and hard links to an input count as the input); an existing
 * file is replaced only with `overwrite`; a device or pipe only where `allowSpecial`; and the directory that will
 * hold it must exist (or, for a directory output, be creatable) and be writable. `files` are the output and any
 * files the command writes beside it, each checked. Errors are one line naming the flag and the file.
 */
export function checkOutputs(files: readonly string[], rule: OutputRule): void {
  const inputs = rule.inputs.filter((input): input is string => input !== undefined).map((input) => ({ input, info: statOrNull(input) }));
  for (const file of files) {
    const info = statOrNull(file);
    const where = `${rule.flag} ${file}`;
    if (info) {
      const same = inputs.find((i) => i.info && i.info.dev === info.dev && i.info.ino === info.ino);
      if (same) throw new ArqError(`${where}: is the input ${same.input} (the same file): writing it would destroy the input; choose another path`);
      if (rule.directory) {
        if (!info.isDirectory()) throw new ArqError(`${where}: exists and is not a directory`);
      } else if (info.isDirectory()) {
        throw new ArqError(`${where}: is a directory; give a file path`);
      } else if (isSpecial(info)) {
        if (!rule.allowSpecial) throw new ArqError(`${where}: is not a regular file (a device or pipe), and this command writes files beside its output; give a file path`);
      } else if (!rule.overwrite) {
        throw new ArqError(`${where}: exists; ${rule.resumable ? 'continue it with --resume, replace it with --overwrite' : 'pass --overwrite to replace it'}, or choose another path`);
      }
    }
    if (info && isSpecial(info)) continue;
    // The directory the file (or the directory output's first missing part) will be created in.
    let dir = rule.directory && info ? file : path.dirname(path.resolve(file));
    if (rule.directory) while (!statOrNull(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
    const dirInfo = statOrNull(dir);
    if (!dirInfo) throw new ArqError(`${where}: no such directory ${path.dirname(file)}`);
    if (!dirInfo.isDirectory()) throw new ArqError(`${where}: ${dir} is not a directory`);
    try {
      accessSync(dir, constants.W_OK);
    } catch (error) {
      throw new ArqError(`${where}: cannot write in ${dir}: ${why(error)}`, { cause: error });
    }
  }
}

/**
 * Writes `data` to a uniquely named temporary file beside `file`, flushes it to disk, then renames it over `file`
 * (atomic within one file system), so a reader or a killed run sees the old content or the new, never a mixture.
 * A device or pipe (/dev/null) is written in place: there is nothing to rename over, and it cannot be flushed.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const info = statOrNull(file);
  if (info && isSpecial(info)) {
    writeFileSync(file, data);
    return;
  }
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const fd = openSync(temporary, 'w');
    try {
      const bytes = typeof data === 'string' ? Buffer.from(data) : data;
      for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, file);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}
