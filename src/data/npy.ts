/**
 * NumPy .npy files, versions 1.0, 2.0 and 3.0: a reader returning typed arrays and a writer (little-endian,
 * C order). The host is assumed little-endian (x86-64, arm64): typed arrays are filled from, and written as, raw
 * little-endian bytes. Only plain numeric dtypes are supported; structured, object, string, complex and float16
 * arrays are not.
 * Errors are ArqErrors prefixed `npy:FILE:`.
 */
import { ArqError } from '../util/errors.js';
import { writeFileAtomic } from '../util/files.js';
import { checkBody, readBody, readDataFileSync, withDataFile } from './files.js';

export type NpyDtype = 'bool' | 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'uint64' | 'int64' | 'float32' | 'float64';

export type NpyData =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | BigUint64Array
  | BigInt64Array
  | Float32Array
  | Float64Array;

export interface NpyArray {
  readonly dtype: NpyDtype;
  /** C-order shape; [] for a 0-d array. */
  readonly shape: number[];
  /** prod(shape) elements in C order (bool as 0/1 bytes). Always a fresh, aligned array. */
  readonly data: NpyData;
}

interface DtypeInfo {
  readonly dtype: NpyDtype;
  readonly code: string; // kind + itemsize, as in a descr: 'f4'
  readonly size: number;
  readonly type: new (n: number) => NpyData;
}

const DTYPES: readonly DtypeInfo[] = [
  { dtype: 'bool', code: 'b1', size: 1, type: Uint8Array },
  { dtype: 'uint8', code: 'u1', size: 1, type: Uint8Array },
  { dtype: 'int8', code: 'i1', size: 1, type: Int8Array },
  { dtype: 'uint16', code: 'u2', size: 2, type: Uint16Array },
  { dtype: 'int16', code: 'i2', size: 2, type: Int16Array },
  { dtype: 'uint32', code: 'u4', size: 4, type: Uint32Array },
  { dtype: 'int32', code: 'i4', size: 4, type: Int32Array },
  { dtype: 'uint64', code: 'u8', size: 8, type: BigUint64Array },
  { dtype: 'int64', code: 'i8', size: 8, type: BigInt64Array },
  { dtype: 'float32', code: 'f4', size: 4, type: Float32Array },
  { dtype: 'float64', code: 'f8', size: 8, type: Float64Array },
];

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

// ---------------------------------------------------------------------------------------------------------------
// The header: a Python dict literal. A small parser for the subset numpy writes (strings, ints, True/False/None,
// tuples, lists, dicts), rather than regexes, so odd spacing and Python 2 `3L` ints read correctly.

type PyValue = string | number | boolean | null | { readonly seq: 'tuple' | 'list'; readonly items: PyValue[] } | Map<string, PyValue>;

class HeaderParser {
  private pos = 0;
  constructor(private readonly text: string, private readonly label: string) {}

  fail(what: string): never {
    throw new ArqError(`${this.label}: bad NPY header: ${what} at offset ${this.pos} in ${JSON.stringify(this.text.trim())}`);
  }

  private skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos])) this.pos++;
  }

  parseAll(): PyValue {
    const v = this.value();
    this.skipSpace();
    if (this.pos !== this.text.length) this.fail('unexpected text after the dict');
    return v;
  }

  private value(): PyValue {
    this.skipSpace();
    const c = this.text[this.pos];
    if (c === undefined) this.fail('unexpected end');
    if (c === '{') return this.dict();
    if (c === '(' || c === '[') return this.sequence();
    if (c === "'" || c === '"') return this.string();
    if (c === '-' || (c >= '0' && c <= '9')) return this.integer();
    for (const [word, v] of [['True', true], ['False', false], ['None', null]] as const) {
      if (this.text.startsWith(word, this.pos)) {
        this.pos += word.length;
        return v;
      }
    }
    return this.fail(`unexpected character ${JSON.stringify(c)}`);
  }

  private string(): string {
    const quote = this.text[this.pos++];
    let out = '';
    for (;;) {
      const c = this.text[this.pos++];
      if (c === undefined) this.fail('unterminated string');
      if (c === quote) return out;
      if (c === '\\') {
        const next = this.text[this.pos++];
        if (next === undefined) this.fail('unterminated string');
        out += next;
      } else out += c;
    }
  }

  private integer(): number {
    const re = /-?\d+[lL]?/y;
    re.lastIndex = this.pos;
    const m = re.exec(this.text);
    if (!m) this.fail('bad number');
    this.pos += m[0].length;
    const v = Number(m[0].replace(/[lL]$/, ''));
    if (!Number.isSafeInteger(v)) this.fail(`integer ${m[0]} is too large`);
    return v;
  }

  private sequence(): PyValue {
    const open = this.text[this.pos++];
    const close = open === '(' ? ')' : ']';
    const items: PyValue[] = [];
    let sawComma = false;
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] === close) {
        this.pos++;
        break;
      }
      items.push(this.value());
      this.skipSpace();
      if (this.text[this.pos] === ',') {
        this.pos++;
        sawComma = true;
      } else if (this.text[this.pos] !== close) this.fail(`expected ',' or '${close}'`);
    }
    // `(3)` is just 3 in Python; numpy writes `(3,)`.
    if (open === '(' && items.length === 1 && !sawComma) return items[0];
    return { seq: open === '(' ? 'tuple' : 'list', items };
  }

  private dict(): Map<string, PyValue> {
    this.pos++;
    const out = new Map<string, PyValue>();
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] === '}') {
        this.pos++;
        return out;
      }
      const key = this.value();
      if (typeof key !== 'string') this.fail('dict keys must be strings');
      this.skipSpace();
      if (this.text[this.pos] !== ':') this.fail("expected ':'");
      this.pos++;
      out.set(key, this.value());
      this.skipSpace();
      if (this.text[this.pos] === ',') this.pos++;
      else if (this.text[this.pos] !== '}') this.fail("expected ',' or '}'");
    }
  }
}

function dtypeFromDescr(descr: PyValue, label: string): DtypeInfo {
  if (typeof descr !== 'string') throw new ArqError(`${label}: unsupported dtype: structured arrays are not supported`);
  const m = /^([<>|=]?)([a-zA-Z])(\d+)$/.exec(descr);
  const info = m ? DTYPES.find((d) => d.code === `${m[2]}${m[3]}`) : undefined;
  if (!m || !info) {
    throw new ArqError(`${label}: unsupported dtype '${descr}': expected one of ${DTYPES.map((d) => `${d.dtype} ('<${d.code}')`).join(', ')}`);
  }
  // Native order ('=' or none) is taken as little-endian (see the file comment).
  if (m[1] === '>' && info.size > 1) throw new ArqError(`${label}: big-endian dtype '${descr}' is not supported: save the array as little-endian ('<${info.code}')`);
  return info;
}

/** The fixed prefix of an .npy file: magic, version and header length (2 bytes in version 1, 4 after). */
const PREFIX_BYTES = 12;

interface NpyHeader {
  readonly info: DtypeInfo;
  readonly shape: number[];
  /** Offset of the data: prefix plus header. */
  readonly dataStart: number;
}

/** The header length field of an .npy file from its first bytes (at least PREFIX_BYTES, or the whole file). */
function headerSpan(buf: Uint8Array, label: string): { dataStart: number; textStart: number; major: number } {
  if (buf.length < 10 || !MAGIC.equals(Buffer.from(buf.buffer, buf.byteOffset, 6))) {
    throw new ArqError(`${label}: not an NPY file (missing the \\x93NUMPY magic)`);
  }
  const major = buf[6];
  const minor = buf[7];
  if (![1, 2, 3].includes(major) || minor !== 0) throw new ArqError(`${label}: unsupported NPY version ${major}.${minor}: expected 1.0, 2.0 or 3.0`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const lenBytes = major === 1 ? 2 : 4;
  if (buf.length < 8 + lenBytes) throw new ArqError(`${label}: truncated NPY header`);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  return { dataStart: 8 + lenBytes + headerLen, textStart: 8 + lenBytes, major };
}

/** Parses the header of an .npy file; `buf` holds at least its first dataStart bytes (checked). */
function parseHeader(buf: Uint8Array, label: string, fileBytes: number): NpyHeader {
  const { dataStart, textStart, major } = headerSpan(buf, label);
  if (buf.length < dataStart) {
    throw new ArqError(`${label}: truncated NPY header: it declares ${dataStart - textStart} header bytes but the file holds ${fileBytes - textStart}`);
  }
  const headerText = Buffer.from(buf.buffer, buf.byteOffset + textStart, dataStart - textStart).toString(major === 3 ? 'utf8' : 'latin1');
  const header = new HeaderParser(headerText, label).parseAll();
  if (!(header instanceof Map)) throw new ArqError(`${label}: bad NPY header: expected a dict, got ${JSON.stringify(headerText.trim())}`);
  for (const key of header.keys()) {
    if (!['descr', 'fortran_order', 'shape'].includes(key)) throw new ArqError(`${label}: bad NPY header: unexpected key '${key}'`);
  }
  for (const key of ['descr', 'fortran_order', 'shape']) {
    if (!header.has(key)) throw new ArqError(`${label}: bad NPY header: missing key '${key}'`);
  }
  const info = dtypeFromDescr(header.get('descr')!, label);
  const fortran = header.get('fortran_order');
  if (typeof fortran !== 'boolean') throw new ArqError(`${label}: bad NPY header: fortran_order must be True or False`);
  const shapeValue = header.get('shape')!;
  const shapeItems = typeof shapeValue === 'object' && shapeValue !== null && !(shapeValue instanceof Map) ? shapeValue.items : undefined;
  if (!shapeItems || !shapeItems.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 0)) {
    throw new ArqError(`${label}: bad NPY header: shape must be a tuple of non-negative integers, got ${JSON.stringify(headerText.trim())}`);
  }
  const shape = shapeItems as number[];
  // Fortran order only changes the layout of arrays with two or more dimensions.
  if (fortran && shape.length > 1) {
    throw new ArqError(`${label}: fortran_order True is not supported: save a C-ordered array (numpy.ascontiguousarray)`);
  }
  return { info, shape, dataStart };
}

function sizeMismatch(label: string, header: NpyHeader, got: number): ArqError {
  const { info, shape, dataStart } = header;
  const dataBytes = shape.reduce((a, b) => a * b, 1) * info.size;
  const expected = dataStart + dataBytes;
  return new ArqError(
    `${label}: ${got < expected ? 'truncated' : 'oversized'} NPY file: expected ${expected} bytes for ${info.dtype} shape [${shape.join(', ')}] (${dataStart} header + ${dataBytes} data), got ${got}`,
  );
}

/** Decode an .npy file held in memory. `label` prefixes errors (readNpySync uses `npy:PATH`). */
export function decodeNpy(buf: Uint8Array, label = 'npy'): NpyArray {
  const header = parseHeader(buf, label, buf.length);
  const { info, shape, dataStart } = header;
  const count = shape.reduce((a, b) => a * b, 1);
  if (buf.length !== dataStart + count * info.size) throw sizeMismatch(label, header, buf.length);
  const data = new info.type(count);
  new Uint8Array(data.buffer, data.byteOffset, data.byteLength).set(buf.subarray(dataStart));
  return { dtype: info.dtype, shape, data };
}

/**
 * Read an .npy file, or only its first `limit` rows (entries of the first dimension) when given. The header is read
 * and checked against the file's size before the data is allocated, and the data is read straight into the
 * returned array, off the event loop.
 */
export async function readNpy(path: string, options: { limit?: number } = {}): Promise<NpyArray> {
  return (await readNpyRows(path, options.limit)).array;
}

/** readNpy, with the number of rows the file holds (`array` holds at most `limit` of them). */
export async function readNpyRows(path: string, limit?: number): Promise<{ array: NpyArray; rows: number }> {
  const label = `npy:${path}`;
  return withDataFile(path, label, 'NPY file', false, async (reader) => {
    const fileBytes = reader.plainSize!;
    const prefix = new Uint8Array(Math.min(PREFIX_BYTES, fileBytes));
    await reader.read(prefix);
    const { dataStart } = headerSpan(prefix, label);
    const head = new Uint8Array(Math.min(dataStart, fileBytes));
    head.set(prefix.subarray(0, Math.min(prefix.length, head.length)));
    if (head.length > prefix.length) await reader.read(head.subarray(prefix.length));
    const header = parseHeader(head, label, fileBytes);
    const { info, shape } = header;
    const rows = shape.length === 0 ? 1 : shape[0];
    const perRow = shape.slice(1).reduce((a, b) => a * b, 1);
    const kept = Math.min(rows, limit ?? rows);
    if (fileBytes !== dataStart + rows * perRow * info.size) throw sizeMismatch(label, header, fileBytes);
    const sizes = { headerBytes: dataStart, bodyBytes: rows * perRow * info.size, keep: kept * perRow * info.size, description: `${info.dtype} shape [${shape.join(', ')}]` };
    checkBody(reader, label, 'NPY file', sizes);
    const data = new info.type(kept * perRow);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    await readBody(reader, label, 'NPY file', sizes, (piece, offset) => bytes.set(piece, offset));
    const keptShape = shape.length === 0 ? [] : [kept, ...shape.slice(1)];
    return { array: { dtype: info.dtype, shape: keptShape, data }, rows };
  });
}

export function readNpySync(path: string): NpyArray {
  return decodeNpy(readDataFileSync(path, `npy:${path}`, 'NPY file'), `npy:${path}`);
}

/** The data of any numeric NpyArray as float32 (the array itself when already float32). */
export function npyAsFloat32(arr: NpyArray): Float32Array {
  if (arr.data instanceof Float32Array) return arr.data;
  const out = new Float32Array(arr.data.length);
  const d = arr.data;
  for (let i = 0; i < d.length; i++) out[i] = Number(d[i]);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Writing.

function infoOf(array: NpyData): DtypeInfo {
  const dtype: NpyDtype =
    array instanceof Float32Array ? 'float32'
    : array instanceof Float64Array ? 'float64'
    : array instanceof Int32Array ? 'int32'
    : array instanceof Uint32Array ? 'uint32'
    : array instanceof Int16Array ? 'int16'
    : array instanceof Uint16Array ? 'uint16'
    : array instanceof Int8Array ? 'int8'
    : array instanceof BigInt64Array ? 'int64'
    : array instanceof BigUint64Array ? 'uint64'
    : 'uint8';
  return DTYPES.find((d) => d.dtype === dtype)!;
}

/**
 * Encode a C-order array as an .npy file (version 1.0, or 2.0 when the header needs it), little-endian, with the
 * header padded so the data starts on a 64-byte boundary as numpy does. Uint8Array is written as uint8.
 */
export function encodeNpy(array: NpyData, shape: readonly number[]): Buffer {
  if (!shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new ArqError(`encodeNpy: shape must be non-negative integers, got [${shape.join(', ')}]`);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== array.length) throw new ArqError(`encodeNpy: shape [${shape.join(', ')}] holds ${count} elements but the array has ${array.length}`);
  const info = infoOf(array);
  const order = info.size === 1 ? '|' : '<';
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '${order}${info.code}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  let major = 1;
  let prefix = 10;
  let headerLen = Math.ceil((prefix + dict.length + 1) / 64) * 64 - prefix;
  if (headerLen > 0xffff) {
    major = 2;
    prefix = 12;
    headerLen = Math.ceil((prefix + dict.length + 1) / 64) * 64 - prefix;
  }
  const out = Buffer.alloc(prefix + headerLen + array.byteLength);
  MAGIC.copy(out, 0);
  out[6] = major;
  out[7] = 0;
  if (major === 1) out.writeUInt16LE(headerLen, 8);
  else out.writeUInt32LE(headerLen, 8);
  out.write(dict.padEnd(headerLen - 1, ' ') + '\n', prefix, 'latin1');
  // Typed arrays hold host-order data, assumed little-endian (see the file comment).
  out.set(new Uint8Array(array.buffer, array.byteOffset, array.byteLength), prefix + headerLen);
  return out;
}

function writeFailure(path: string, err: unknown): ArqError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const why = code === 'ENOENT' ? 'no such directory' : err instanceof Error ? err.message : String(err);
  return new ArqError(`npy:${path}: cannot write NPY file: ${why}`, { cause: err });
}

/** Writes an .npy file through a temporary file and a rename (writeFileAtomic), so no half-written file is left. */
export function writeNpySync(path: string, array: NpyData, shape: readonly number[]): void {
  const buf = encodeNpy(array, shape);
  try {
    writeFileAtomic(path, buf);
  } catch (err) {
    throw writeFailure(path, err);
  }
}

export async function writeNpy(path: string, array: NpyData, shape: readonly number[]): Promise<void> {
  writeNpySync(path, array, shape);
}
