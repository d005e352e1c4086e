import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeNpy, encodeNpy, npyAsFloat32, readNpy, readNpySync, writeNpy, writeNpySync } from '../../src/data/index.js';
import { expectArqError, tempDir } from './helpers.js';

const dir = tempDir();
let n = 0;
function file(content: Uint8Array, name = `a${n++}.npy`): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

/** A hand-built .npy: magic, version, header length, the header text (padded to 64 with a newline), data. */
function rawNpy(header: string, data: Uint8Array, major = 1): Buffer {
  const prefix = major === 1 ? 10 : 12;
  const total = Math.ceil((prefix + header.length + 1) / 64) * 64;
  const text = header.padEnd(total - prefix - 1, ' ') + '\n';
  const head = Buffer.alloc(prefix);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]).copy(head);
  if (major === 1) head.writeUInt16LE(text.length, 8);
  else head.writeUInt32LE(text.length, 8);
  return Buffer.concat([head, Buffer.from(text, major === 3 ? 'utf8' : 'latin1'), data]);
}

const bytes = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

describe('NPY reader on hand-built files', () => {
  it('reads float32 2-D', () => {
    const data = new Float32Array([0, 0.5, 1, -2, 3.25, 1e-8]);
    const arr = decodeNpy(rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", bytes(data)));
    expect(arr.dtype).toBe('float32');
    expect(arr.shape).toEqual([2, 3]);
    expect(arr.data).toBeInstanceOf(Float32Array);
    expect(Array.from(arr.data as Float32Array)).toEqual(Array.from(data));
  });

  it('reads every supported dtype', () => {
    const cases: [string, ArrayBufferView & { length: number }, string, unknown][] = [
      ['|u1', new Uint8Array([0, 255, 7]), 'uint8', Uint8Array],
      ['|i1', new Int8Array([-128, 127, 0]), 'int8', Int8Array],
      ['|b1', new Uint8Array([1, 0, 1]), 'bool', Uint8Array],
      ['<u2', new Uint16Array([65535, 1, 2]), 'uint16', Uint16Array],
      ['<i2', new Int16Array([-32768, 5, 6]), 'int16', Int16Array],
      ['<u4', new Uint32Array([4294967295, 1, 2]), 'uint32', Uint32Array],
      ['<i4', new Int32Array([-5, 2147483647, 0]), 'int32', Int32Array],
      ['<u8', new BigUint64Array([18446744073709551615n, 1n, 2n]), 'uint64', BigUint64Array],
      ['<i8', new BigInt64Array([-9223372036854775808n, 7n, 9n]), 'int64', BigInt64Array],
      ['<f8', new Float64Array([Math.PI, -0, 1e300]), 'float64', Float64Array],
      ['=i4', new Int32Array([1, 2, 3]), 'int32', Int32Array],
      ['>u1', new Uint8Array([4, 5, 6]), 'uint8', Uint8Array],
    ];
    for (const [descr, data, dtype, ctor] of cases) {
      const arr = decodeNpy(rawNpy(`{'descr': '${descr}', 'fortran_order': False, 'shape': (3,), }`, bytes(data)));
      expect(arr.dtype, descr).toBe(dtype);
      expect(arr.data, descr).toBeInstanceOf(ctor);
      expect(Array.from(arr.data as ArrayLike<unknown>), descr).toEqual(Array.from(data as unknown as ArrayLike<unknown>));
    }
  });

  it('reads v2.0 and v3.0 headers, odd spacing, double quotes, Python 2 longs, 0-d and empty arrays', () => {
    const data = bytes(new Int32Array([1, 2, 3, 4]));
    const v2 = decodeNpy(rawNpy("{'descr': '<i4', 'fortran_order': False, 'shape': (4,), }", data, 2));
    expect(v2.shape).toEqual([4]);
    expect(Array.from(v2.data as Int32Array)).toEqual([1, 2, 3, 4]);
    const v3 = decodeNpy(rawNpy('{"descr":"<i4","fortran_order":False,"shape":(2,2)}', data, 3));
    expect(v3.shape).toEqual([2, 2]);
    const py2 = decodeNpy(rawNpy("{'descr': '<i4', 'fortran_order': False, 'shape': (2L, 2L), }", data));
    expect(py2.shape).toEqual([2, 2]);
    const spaced = decodeNpy(rawNpy("{ 'shape' : ( 4 , ) ,\t'fortran_order':False , 'descr' : '<i4' }", data));
    expect(spaced.shape).toEqual([4]);
    const scalar = decodeNpy(rawNpy("{'descr': '<f8', 'fortran_order': False, 'shape': (), }", bytes(new Float64Array([2.5]))));
    expect(scalar.shape).toEqual([]);
    expect(Array.from(scalar.data as Float64Array)).toEqual([2.5]);
    const empty = decodeNpy(rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 10), }", new Uint8Array(0)));
    expect(empty.shape).toEqual([0, 10]);
    expect(empty.data.length).toBe(0);
  });

  it('accepts fortran_order True for 1-D arrays, where the layout is the same', () => {
    const arr = decodeNpy(rawNpy("{'descr': '<i4', 'fortran_order': True, 'shape': (4,), }", bytes(new Int32Array([1, 2, 3, 4]))));
    expect(Array.from(arr.data as Int32Array)).toEqual([1, 2, 3, 4]);
  });

  it('returns aligned, independent arrays even from unaligned input', () => {
    const raw = rawNpy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", bytes(new Float64Array([1, 2])));
    const shifted = Buffer.concat([Buffer.alloc(3), raw]).subarray(3);
    const arr = decodeNpy(shifted);
    expect(Array.from(arr.data as Float64Array)).toEqual([1, 2]);
    shifted.fill(0);
    expect(Array.from(arr.data as Float64Array)).toEqual([1, 2]);
  });

  describe('rejections name the file', () => {
    const f4 = bytes(new Float32Array(6));
    const cases: [string, Buffer, string][] = [
      ['bad magic', Buffer.from('PK\x03\x04 not numpy at all'), 'not an NPY file (missing the \\x93NUMPY magic)'],
      ['version 4.0', (() => { const b = rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", f4); b[6] = 4; return b; })(), 'unsupported NPY version 4.0: expected 1.0, 2.0 or 3.0'],
      ['fortran order', rawNpy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", f4), 'fortran_order True is not supported'],
      ['big-endian', rawNpy("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", f4), "big-endian dtype '>f4' is not supported"],
      ['complex', rawNpy("{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }", f4), "unsupported dtype '<c8'"],
      ['float16', rawNpy("{'descr': '<f2', 'fortran_order': False, 'shape': (12,), }", f4), "unsupported dtype '<f2'"],
      ['object', rawNpy("{'descr': '|O', 'fortran_order': False, 'shape': (3,), }", f4), "unsupported dtype '|O'"],
      ['string', rawNpy("{'descr': '<U3', 'fortran_order': False, 'shape': (2,), }", f4), "unsupported dtype '<U3'"],
      ['structured', rawNpy("{'descr': [('a', '<f4'), ('b', '<f4')], 'fortran_order': False, 'shape': (3,), }", f4), 'unsupported dtype: structured arrays are not supported'],
      ['truncated data', rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }", f4), 'truncated NPY file: expected 160 bytes for float32 shape [2, 4] (128 header + 32 data), got 152'],
      ['oversized data', rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", f4), 'oversized NPY file: expected 148 bytes for float32 shape [5] (128 header + 20 data), got 152'],
      ['truncated header', rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", f4).subarray(0, 40), 'truncated NPY header: it declares 118 header bytes but the file holds 30'],
      ['missing key', rawNpy("{'descr': '<f4', 'shape': (6,), }", f4), "bad NPY header: missing key 'fortran_order'"],
      ['extra key', rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'x': 1}", f4), "bad NPY header: unexpected key 'x'"],
      ['negative dim', rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (-6,), }", f4), 'bad NPY header: shape must be a tuple of non-negative integers'],
      ['shape not a tuple', rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': 'six', }", f4), 'bad NPY header: shape must be a tuple of non-negative integers'],
      ['fortran_order not bool', rawNpy("{'descr': '<f4', 'fortran_order': 0, 'shape': (6,), }", f4), 'bad NPY header: fortran_order must be True or False'],
      ['not a dict', rawNpy('(1, 2)', f4), 'bad NPY header: expected a dict'],
      ['garbage header', rawNpy("{'descr': <f4}", f4), 'bad NPY header: unexpected character'],
      ['unterminated header', rawNpy("{'descr': '<f4', 'shape': (6,", f4), 'bad NPY header'],
    ];
    for (const [what, content, message] of cases) {
      it(what, async () => {
        const p = file(content);
        await expectArqError(readNpy(p), `npy:${p}: ${message}`);
        await expectArqError(() => readNpySync(p), `npy:${p}: ${message}`);
      });
    }

    it('missing file', async () => {
      const p = join(dir, 'absent.npy');
      await expectArqError(readNpy(p), `npy:${p}: cannot read NPY file: no such file`);
    });
  });
});

describe('NPY writer', () => {
  it('encodes float32, int32 and uint8 that decode back identically, data 64-byte aligned', () => {
    const cases: [Float32Array | Int32Array | Uint8Array, number[], string][] = [
      [new Float32Array([0.1, -2, 3e38, 5, 6, 7]), [2, 3], 'float32'],
      [new Int32Array([-1, 2, 3, 2147483647]), [4], 'int32'],
      [new Uint8Array([0, 255, 1, 2, 3, 4, 5, 6]), [2, 2, 2], 'uint8'],
      [new Float32Array([42]), [], 'float32'],
      [new Float32Array(0), [0, 10], 'float32'],
    ];
    for (const [array, shape, dtype] of cases) {
      const buf = encodeNpy(array, shape);
      expect((buf.readUInt16LE(8) + 10) % 64).toBe(0);
      expect(buf[6]).toBe(1);
      const back = decodeNpy(buf);
      expect(back.dtype).toBe(dtype);
      expect(back.shape).toEqual(shape);
      expect(Array.from(back.data as ArrayLike<number>)).toEqual(Array.from(array));
    }
    const header = encodeNpy(new Float32Array(6), [2, 3]).subarray(10, 128).toString('latin1');
    expect(header).toBe("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }".padEnd(117, ' ') + '\n');
    expect(encodeNpy(new Int32Array(3), [3]).subarray(10, 128).toString('latin1')).toContain("'shape': (3,)");
    expect(encodeNpy(new Uint8Array(1), [1]).subarray(10, 128).toString('latin1')).toContain("'descr': '|u1'");
  });

  it('encodes the other typed arrays too', () => {
    const arr = new BigInt64Array([-1n, 5n]);
    const back = decodeNpy(encodeNpy(arr, [2]));
    expect(back.dtype).toBe('int64');
    expect(Array.from(back.data as BigInt64Array)).toEqual([-1n, 5n]);
    expect(decodeNpy(encodeNpy(new Float64Array([1.5]), [1])).dtype).toBe('float64');
  });

  it('switches to version 2.0 when the header does not fit in 64 KiB', () => {
    const shape = new Array<number>(30000).fill(1);
    const buf = encodeNpy(new Float32Array([7]), shape);
    expect(buf[6]).toBe(2);
    expect((buf.readUInt32LE(8) + 12) % 64).toBe(0);
    const back = decodeNpy(buf);
    expect(back.shape.length).toBe(30000);
    expect(Array.from(back.data as Float32Array)).toEqual([7]);
  });

  it('rejects a shape that does not match the array', () => {
    expect(() => encodeNpy(new Float32Array(6), [2, 4])).toThrow(/shape \[2, 4\] holds 8 elements but the array has 6/);
    expect(() => encodeNpy(new Float32Array(6), [2, -3])).toThrow(/non-negative integers/);
  });

  it('writes files (async and sync) that readNpy reads back', async () => {
    const logits = new Float32Array([1, 2, 3, 4, 5, 6]);
    const p = join(dir, 'logits.npy');
    await writeNpy(p, logits, [3, 2]);
    const back = await readNpy(p);
    expect(back.shape).toEqual([3, 2]);
    expect(npyAsFloat32(back)).toEqual(logits);
    const q = join(dir, 'labels.npy');
    writeNpySync(q, new Int32Array([1, 0, 1]), [3]);
    expect(npyAsFloat32(readNpySync(q))).toEqual(new Float32Array([1, 0, 1]));
    await expectArqError(writeNpy(join(dir, 'no', 'such', 'x.npy'), logits, [6]), 'cannot write NPY file: no such directory');
  });
});

// numpy interop, when some python3 here has numpy.
const numpyPython = ['python3', '/usr/bin/python3'].find((exe) => spawnSync(exe, ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0);

describe.skipIf(!numpyPython)('NPY interop with numpy', () => {
  it('reads files numpy wrote, and numpy reads files we wrote', () => {
    const script = `
import numpy as np, sys, os
d = sys.argv[1]
np.save(os.path.join(d, 'np_u8.npy'), (np.arange(2*3*4*5) % 256).astype(np.uint8).reshape(2, 3, 4, 5))
np.save(os.path.join(d, 'np_f32.npy'), np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4))
np.save(os.path.join(d, 'np_f64.npy'), np.array([0.25, 0.5]))
np.save(os.path.join(d, 'np_i64.npy'), np.array([7, 2, 1, 0], dtype=np.int64))
np.save(os.path.join(d, 'np_fortran.npy'), np.asfortranarray(np.arange(6, dtype=np.int32).reshape(2, 3)))
with open(os.path.join(d, 'np_v2.npy'), 'wb') as f:
    np.lib.format.write_array(f, np.array([3, 1], dtype=np.int16), version=(2, 0))
a = np.load(os.path.join(d, 'ours.npy'))
assert a.dtype == np.float32 and a.shape == (2, 3), (a.dtype, a.shape)
assert (a == np.array([[0, 0.5, 1], [2, 3, 4]], dtype=np.float32)).all()
b = np.load(os.path.join(d, 'ours_u8.npy'))
assert b.dtype == np.uint8 and b.shape == (4,) and list(b) == [0, 1, 254, 255]
print('ok')
`;
    writeNpySync(join(dir, 'ours.npy'), new Float32Array([0, 0.5, 1, 2, 3, 4]), [2, 3]);
    writeNpySync(join(dir, 'ours_u8.npy'), new Uint8Array([0, 1, 254, 255]), [4]);
    const run = spawnSync(numpyPython!, ['-c', script, dir], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.stdout.trim()).toBe('ok');

    const u8 = readNpySync(join(dir, 'np_u8.npy'));
    expect(u8.dtype).toBe('uint8');
    expect(u8.shape).toEqual([2, 3, 4, 5]);
    expect(Array.from(u8.data as Uint8Array)).toEqual(Array.from({ length: 120 }, (_, i) => i));
    const f32 = readNpySync(join(dir, 'np_f32.npy'));
    expect(f32.shape).toEqual([3, 4]);
    expect((f32.data as Float32Array)[11]).toBe(1);
    expect(Array.from(readNpySync(join(dir, 'np_f64.npy')).data as Float64Array)).toEqual([0.25, 0.5]);
    const i64 = readNpySync(join(dir, 'np_i64.npy'));
    expect(i64.dtype).toBe('int64');
    expect(Array.from(i64.data as BigInt64Array)).toEqual([7n, 2n, 1n, 0n]);
    const v2 = readFileSync(join(dir, 'np_v2.npy'));
    expect(v2[6]).toBe(2);
    expect(Array.from(decodeNpy(v2).data as Int16Array)).toEqual([3, 1]);
    expect(() => readNpySync(join(dir, 'np_fortran.npy'))).toThrow(/fortran_order True is not supported/);
  });
});
