/**
 * A results file written row by row: created with its header, or resumed after its last complete line. Certify's
 * and verify's TSV files share it; each supplies its header, row format and reader (which checks the header).
 */
import { closeSync, existsSync, fsyncSync, openSync, truncateSync, writeSync } from 'node:fs';
import { ArqError } from './errors.js';

export interface TsvFormat<Row> {
  readonly header: string;
  readonly format: (row: Row) => string;
  /** Reads an existing file for a resume: its complete rows and the bytes they take (a final partial line excluded). */
  readonly read: (path: string) => { rows: Row[]; validBytes: number };
}

/** Appends rows to FILE.tsv, one write (and so one flush to the OS) per line. */
export class TsvAppender<Row> {
  private constructor(private fd: number | null, readonly path: string, readonly existing: Row[], private readonly format: (row: Row) => string) {}

  /**
   * Without `resume` the file is created (replaced if present) with the header. With `resume` an existing file is
   * read, a final partial line cut off, and rows are appended after its complete lines; `existing` holds the rows
   * already there.
   */
  static open<Row>(path: string, tsv: TsvFormat<Row>, options: { resume?: boolean } = {}): TsvAppender<Row> {
    if (options.resume && existsSync(path)) {
      const file = tsv.read(path);
      if (file.validBytes > 0) {
        truncateSync(path, file.validBytes);
        return new TsvAppender(openSync(path, 'a'), path, file.rows, tsv.format);
      }
    }
    let fd: number;
    try {
      fd = openSync(path, 'w');
    } catch (error) {
      throw new ArqError(`cannot write results ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    writeSync(fd, `${tsv.header}\n`);
    return new TsvAppender(fd, path, [], tsv.format);
  }

  append(row: Row): void {
    if (this.fd === null) throw new ArqError(`results ${this.path} are closed`);
    writeSync(this.fd, `${this.format(row)}\n`);
  }

  close(): void {
    if (this.fd === null) return;
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = null;
  }
}
