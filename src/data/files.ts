/**
 * File reads for the data loaders. Errors are ArqErrors that name the file.
 *
 * Dataset files are read through a DataReader, which hands out the (decompressed) bytes in order, so a loader reads
 * the header first, checks what it declares against the file and against MAX_DATA_BYTES, and only then allocates
 * and reads the body; gzip files are inflated as a stream on the libuv pool and never past what the loader asks for.
 * A decompression bomb therefore costs at most the declared size plus one chunk, and a large file never blocks the
 * event loop while it is read.
 */
import { readFileSync, type ReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { setImmediate as yieldTurn } from 'node:timers/promises';
import { createGunzip, type Gunzip } from 'node:zlib';
import { ArqError } from '../util/errors.js';

/** The most bytes a dataset file may declare (before decoding to float32, which takes four times as much). */
export const MAX_DATA_BYTES = 2 ** 31;

/** Inflate output chunk: large enough that a 50 MB file takes a few hundred hops to the libuv pool. */
const GUNZIP_CHUNK = 1 << 18;

function reason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EISDIR') return 'is a directory';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return err instanceof Error ? err.message : String(err);
}

/** Read a whole file at once (the synchronous NPY reader); `label` prefixes the error, `what` names the file. */
export function readDataFileSync(path: string, label: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ArqError(`${label}: cannot read ${what}: ${reason(err)}`, { cause: err });
  }
}

/** The bytes of a data file in order, decompressed when the file is gzipped. */
export interface DataReader {
  /** The file's size on disk when it is not compressed (the content's size), else undefined. */
  readonly plainSize: number | undefined;
  /** Fills `dest` with the next bytes; returns how many it got, fewer than dest.length only at the end. */
  read(dest: Uint8Array): Promise<number>;
  close(): Promise<void>;
}

class PlainReader implements DataReader {
  private position = 0;
  constructor(private readonly handle: FileHandle, readonly plainSize: number) {}

  async read(dest: Uint8Array): Promise<number> {
    let got = 0;
    while (got < dest.length) {
      const { bytesRead } = await this.handle.read(dest, got, dest.length - got, this.position);
      if (bytesRead === 0) break;
      got += bytesRead;
      this.position += bytesRead;
    }
    return got;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** Inflates on the libuv pool, one output chunk at a time as read() asks for it (the stream's backpressure). */
class GzipReader implements DataReader {
  readonly plainSize = undefined;
  private readonly input: ReadStream;
  private readonly gunzip: Gunzip;
  private readonly chunks: AsyncIterator<Buffer>;
  private pending: Buffer = Buffer.alloc(0);
  private ended = false;

  constructor(private readonly handle: FileHandle, private readonly label: string) {
    this.input = handle.createReadStream({ autoClose: false, start: 0 });
    this.gunzip = createGunzip({ chunkSize: GUNZIP_CHUNK });
    this.input.on('error', (err) => this.gunzip.destroy(err));
    this.chunks = this.input.pipe(this.gunzip)[Symbol.asyncIterator]();
  }

  async read(dest: Uint8Array): Promise<number> {
    let got = 0;
    while (got < dest.length) {
      if (this.pending.length === 0) {
        if (this.ended) break;
        let next: IteratorResult<Buffer>;
        try {
          next = await this.chunks.next();
        } catch (err) {
          throw new ArqError(`${this.label}: corrupt gzip data: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
        }
        if (next.done) {
          this.ended = true;
          break;
        }
        this.pending = next.value;
      }
      const take = Math.min(this.pending.length, dest.length - got);
      dest.set(this.pending.subarray(0, take), got);
      this.pending = this.pending.subarray(take);
      got += take;
    }
    return got;
  }

  async close(): Promise<void> {
    this.input.unpipe(this.gunzip);
    this.input.destroy();
    this.gunzip.destroy();
    await this.handle.close();
  }
}

/**
 * Opens a data file for reading in order, gunzipping it when `gunzip` and it starts with the gzip magic bytes
 * 1f 8b (formats that are never compressed pass false, so their bytes are taken as they are).
 */
async function openDataFile(path: string, label: string, what: string, gunzip: boolean): Promise<DataReader> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, 'r');
    const info = await handle.stat();
    if (info.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    const magic = Buffer.alloc(2);
    const { bytesRead } = await handle.read(magic, 0, 2, 0);
    if (gunzip && bytesRead === 2 && magic[0] === 0x1f && magic[1] === 0x8b) return new GzipReader(handle, label);
    return new PlainReader(handle, info.size);
  } catch (err) {
    await handle?.close().catch(() => undefined);
    throw new ArqError(`${label}: cannot read ${what}: ${reason(err)}`, { cause: err });
  }
}

/** Bytes read per step of readBody: decoding one step takes about a millisecond. */
const READ_CHUNK_BYTES = 1 << 20;

export interface BodySizes {
  /** Bytes of the header already read; headerBytes + bodyBytes is the size the header declares. */
  readonly headerBytes: number;
  readonly bodyBytes: number;
  /** Bytes of the body to read: all of it, or a prefix under a limit. */
  readonly keep: number;
  /** What the header declares, for errors: "5 images of 3x4". */
  readonly description: string;
}

function sizeMismatch(label: string, what: string, sizes: BodySizes, got: number | 'more'): ArqError {
  const expected = sizes.headerBytes + sizes.bodyBytes;
  const kind = got !== 'more' && got < expected ? 'truncated' : 'oversized';
  return new ArqError(`${label}: ${kind} ${what}: expected ${expected} bytes for ${sizes.description}, got ${got === 'more' ? `more (it decompresses past ${expected} bytes)` : got}`);
}

/**
 * Checks what a header declares before anything is allocated for it: a plain file must have exactly the declared
 * size, and the declared size must be within MAX_DATA_BYTES.
 */
export function checkBody(reader: DataReader, label: string, what: string, sizes: BodySizes): void {
  const expected = sizes.headerBytes + sizes.bodyBytes;
  if (reader.plainSize !== undefined && reader.plainSize !== expected) throw sizeMismatch(label, what, sizes, reader.plainSize);
  if (expected > MAX_DATA_BYTES) {
    throw new ArqError(`${label}: ${what} declares ${sizes.description} (${expected} bytes), more than the ${MAX_DATA_BYTES}-byte limit of a dataset file`);
  }
}

/**
 * Reads one file's body after its header has been read and checked (checkBody, which callers run before they
 * allocate what the body fills), handing it to `consume` in order, in pieces of at most `chunkBytes` (a multiple of
 * the record size, so no record is split) with their offset in the body. A gzip stream must hold exactly the
 * declared size when all of it is kept, and is abandoned as soon as it holds more. Each piece is read off the event
 * loop, so decoding piece by piece never holds the loop for long.
 */
export async function readBody(
  reader: DataReader, label: string, what: string, sizes: BodySizes,
  consume: (piece: Uint8Array, offset: number) => void, chunkBytes = READ_CHUNK_BYTES,
): Promise<void> {
  checkBody(reader, label, what, sizes);
  const buffer = new Uint8Array(Math.max(1, Math.min(sizes.keep, chunkBytes)));
  for (let offset = 0; offset < sizes.keep; offset += buffer.length) {
    const piece = buffer.subarray(0, Math.min(buffer.length, sizes.keep - offset));
    const got = await reader.read(piece);
    if (got < piece.length) throw sizeMismatch(label, what, sizes, sizes.headerBytes + offset + got);
    consume(piece, offset);
  }
  if (sizes.keep === sizes.bodyBytes && reader.plainSize === undefined && (await reader.read(new Uint8Array(1))) > 0) {
    throw sizeMismatch(label, what, sizes, 'more');
  }
}

/**
 * The kept body decoded into `create(sizes.keep)`, allocated only once the bytes are known to exist. A plain file's
 * size was checked against its header (checkBody), so its result is allocated first and filled piece by piece. A
 * gzip stream's size is known only as it inflates: a 3 KB file may declare gigabytes, so its pieces are collected
 * as they inflate and decoded into the result only after the whole kept body has arrived (memory bounded by what
 * the file really holds, not by what it claims), with a turn of the event loop after each piece.
 */
export async function readBodyInto<T>(
  reader: DataReader, label: string, what: string, sizes: BodySizes,
  create: (length: number) => T, decode: (piece: Uint8Array, offset: number, into: T) => void,
): Promise<T> {
  checkBody(reader, label, what, sizes);
  if (reader.plainSize !== undefined) {
    const into = create(sizes.keep);
    await readBody(reader, label, what, sizes, (piece, offset) => decode(piece, offset, into));
    return into;
  }
  const pieces: Uint8Array[] = [];
  await readBody(reader, label, what, sizes, (piece) => pieces.push(piece.slice()));
  const into = create(sizes.keep);
  let offset = 0;
  for (const piece of pieces) {
    decode(piece, offset, into);
    offset += piece.length;
    await yieldTurn();
  }
  return into;
}

/** Opens `path` (see openDataFile), runs `use` on its reader and closes it, whatever happens. */
export async function withDataFile<T>(path: string, label: string, what: string, gunzip: boolean, use: (reader: DataReader) => Promise<T>): Promise<T> {
  const reader = await openDataFile(path, label, what, gunzip);
  try {
    return await use(reader);
  } finally {
    await reader.close();
  }
}
