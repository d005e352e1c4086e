/**
 * Mutations of real data files for the fuzz suite: idx pairs and npy pairs holding the first MNIST test images,
 * with mutated headers (counts, dimensions, magic numbers, dtypes, shapes, header lengths, versions), bodies
 * (truncated, extended, NaN and infinite pixels, out-of-range labels) and gzip wrappers. A case is a pure function of
 * its Random and the base files.
 */
import { gzipSync } from 'node:zlib';
import { encodeNpy } from '../../src/data/index.js';
import type { Random } from '../../src/util/random.js';
import { pick } from './mutate-model.js';

/** The two files of a dataset: idx images + labels, or npy x + y. */
export interface DataFiles {
  readonly format: 'idx' | 'npy';
  readonly images: Uint8Array;
  readonly labels: Uint8Array;
}

const HOSTILE_U32 = [0, 1, 2, 27, 29, 255, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 100_000, 28 * 28 * 1000];
const HOSTILE_DIMS = ['0', '-1', '1', '2', '28', '29', '4294967296', '9007199254740993', '1e3', "'a'", '', '3, 28', '28, 28, 28, 28'];
const HOSTILE_FLOATS = [NaN, Infinity, -Infinity, 1e-40, 3.4e38, -3.4e38, 255, -5];

/** Base files: the first `count` MNIST test images and labels as idx and as npy (uint8 NHW, float32 NCHW). */
export function baseDataFiles(images: Float32Array, labels: Int32Array, count: number): { idx: DataFiles; npyBytes: DataFiles; npyFloat: DataFiles } {
  const pixels = Uint8Array.from(images.subarray(0, count * 784), (v) => Math.round(v * 255));
  const header = (magic: number, dims: number[]) => {
    const out = Buffer.alloc(4 + 4 * dims.length);
    out.writeUInt32BE(magic, 0);
    dims.forEach((d, i) => out.writeUInt32BE(d, 4 + 4 * i));
    return out;
  };
  const labelBytes = Uint8Array.from(labels.subarray(0, count));
  const idx: DataFiles = {
    format: 'idx',
    images: Buffer.concat([header(0x803, [count, 28, 28]), pixels]),
    labels: Buffer.concat([header(0x801, [count]), labelBytes]),
  };
  const y = encodeNpy(BigInt64Array.from(labelBytes, (l) => BigInt(l)), [count]);
  return {
    idx,
    npyBytes: { format: 'npy', images: encodeNpy(pixels, [count, 28, 28]), labels: y },
    npyFloat: { format: 'npy', images: encodeNpy(images.slice(0, count * 784), [count, 1, 28, 28]), labels: y },
  };
}

function truncateOrExtend(bytes: Uint8Array, random: Random): { bytes: Uint8Array; description: string } {
  const length = pick(random, [0, 3, 8, 15, 16, bytes.length - 1, bytes.length + 1, bytes.length + 784, random.integer(bytes.length)]);
  const out = new Uint8Array(Math.max(0, length));
  out.set(bytes.subarray(0, out.length));
  return { bytes: out, description: `${length} bytes of ${bytes.length}` };
}

function mutateIdx(bytes: Uint8Array, random: Random): { bytes: Uint8Array; description: string } {
  const out = Buffer.from(bytes);
  const choice = random.integer(4);
  if (choice === 0) {
    const field = random.integer(Math.min(4, Math.floor(out.length / 4)));
    const value = pick(random, HOSTILE_U32);
    out.writeUInt32BE(value >>> 0, 4 * field);
    return { bytes: out, description: `header word ${field} = ${value}` };
  }
  if (choice === 1) {
    const at = random.integer(4);
    out[at] = random.integer(256);
    return { bytes: out, description: `magic byte ${at} = ${out[at]}` };
  }
  if (choice === 2) return truncateOrExtend(bytes, random);
  const changes = 1 + random.integer(8);
  for (let k = 0; k < changes; k++) out[random.integer(out.length)] = random.integer(256);
  return { bytes: out, description: `${changes} random bytes` };
}

/** An npy file rebuilt with a mutated header dict, or with raw header and body changes. */
function mutateNpy(bytes: Uint8Array, random: Random): { bytes: Uint8Array; description: string } {
  const buf = Buffer.from(bytes);
  const headerLength = buf.readUInt16LE(8);
  const header = buf.subarray(10, 10 + headerLength).toString('latin1');
  const body = buf.subarray(10 + headerLength);
  const choice = random.integer(6);
  const rebuild = (text: string) => {
    const padded = text.padEnd(Math.ceil((text.length + 11) / 64) * 64 - 11) + '\n';
    const head = Buffer.alloc(10);
    buf.copy(head, 0, 0, 8);
    head.writeUInt16LE(padded.length, 8);
    return Buffer.concat([head, Buffer.from(padded, 'latin1'), body]);
  };
  if (choice === 0) {
    const dims = Array.from({ length: 1 + random.integer(4) }, () => pick(random, HOSTILE_DIMS));
    return { bytes: rebuild(header.replace(/'shape': \([^)]*\)/, `'shape': (${dims.join(', ')},)`)), description: `shape (${dims.join(', ')})` };
  }
  if (choice === 1) {
    const descr = pick(random, ['<f4', '<f8', '>f4', '|u1', '<i8', '<u8', '|b1', '<f2', '<c8', 'O', '<U4', '|i1']);
    return { bytes: rebuild(header.replace(/'descr': '[^']*'/, `'descr': '${descr}'`)), description: `descr ${descr}` };
  }
  if (choice === 2) {
    const text = pick(random, [header.replace('False', 'True'), header.replace('{', '{{'), header.replace(/'shape'/, "'shap'"), '', 'garbage', header.slice(0, header.length / 2)]);
    return { bytes: rebuild(text), description: `header text ${JSON.stringify(text.trim()).slice(0, 60)}` };
  }
  if (choice === 3) {
    const out = Buffer.from(buf);
    const at = pick(random, [6, 7, 8, 9]);
    out[at] = pick(random, [0, 1, 2, 3, 4, 255]);
    return { bytes: out, description: `byte ${at} = ${out[at]}` };
  }
  if (choice === 4 && header.includes("'<f4'")) {
    const out = Buffer.from(buf);
    const values = new Float32Array(out.buffer, out.byteOffset + 10 + headerLength, (out.length - 10 - headerLength) / 4);
    const value = pick(random, HOSTILE_FLOATS);
    for (let k = 0; k < 1 + random.integer(3); k++) values[random.integer(values.length)] = value;
    return { bytes: out, description: `pixels = ${value}` };
  }
  return truncateOrExtend(bytes, random);
}

function mutateNpyLabels(bytes: Uint8Array, random: Random): { bytes: Uint8Array; description: string } {
  if (random.uniform() < 0.5) return mutateNpy(bytes, random);
  const buf = Buffer.from(bytes);
  const headerLength = buf.readUInt16LE(8);
  const labels = new BigInt64Array(buf.buffer.slice(buf.byteOffset + 10 + headerLength, buf.byteOffset + buf.length));
  const value = pick(random, [-1n, 10n, 65536n, 2n ** 40n, -(2n ** 63n)]);
  labels[random.integer(labels.length)] = value;
  return { bytes: Buffer.concat([buf.subarray(0, 10 + headerLength), Buffer.from(labels.buffer)]), description: `a label = ${value}` };
}

function gzipped(bytes: Uint8Array, random: Random): { bytes: Uint8Array; description: string } {
  const gz = gzipSync(bytes);
  if (random.uniform() < 0.5) return { bytes: gz, description: 'gzipped' };
  const cut = 2 + random.integer(gz.length - 2);
  return { bytes: gz.subarray(0, cut), description: `gzip truncated to ${cut} bytes` };
}

/** One mutant of a dataset: one of its two files mutated (idx files sometimes gzipped as well). */
export function mutateData(base: DataFiles, random: Random): { files: DataFiles; description: string } {
  const whichImages = random.uniform() < 0.7;
  const target = whichImages ? base.images : base.labels;
  let mutant: { bytes: Uint8Array; description: string };
  if (base.format === 'idx') {
    mutant = mutateIdx(target, random);
    if (random.uniform() < 0.2) {
      const wrapped = gzipped(mutant.bytes, random);
      mutant = { bytes: wrapped.bytes, description: `${mutant.description}, ${wrapped.description}` };
    }
  } else {
    mutant = whichImages ? mutateNpy(target, random) : mutateNpyLabels(target, random);
  }
  const files = whichImages ? { ...base, images: mutant.bytes } : { ...base, labels: mutant.bytes };
  return { files, description: `${base.format} ${whichImages ? 'images' : 'labels'}: ${mutant.description}` };
}
