// A calibration carried in an ONNX file's metadata (quant/carried-calibration.ts): it comes back exactly as it was
// written, a file without one gives none, and every kind of damage is refused naming the file.
import { deflateSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { lowerGraph } from '../../src/graph/lower.js';
import { onnx } from '../../src/onnx/proto.js';
import { HISTOGRAM_BINS } from '../../src/engine/int-plan.js';
import type { Calibration } from '../../src/quant/calibrate.js';
import { CALIBRATION_KEY, carriedCalibration, encodeCalibration } from '../../src/quant/carried-calibration.js';
import { loadFixture } from '../support/fixtures.js';
import { rng } from '../support/native.js';

const model = loadFixture('tiny_mlp');

/** The fixture's bytes with `value` under the calibration key (and another key before it). */
function withMetadata(value: string | undefined): Uint8Array {
  const proto = onnx.ModelProto.decode(model.bytes);
  proto.metadataProps = [{ key: 'other', value: '{}' }, ...(value === undefined ? [] : [{ key: CALIBRATION_KEY, value }])];
  return onnx.ModelProto.encode(proto).finish();
}

/** A calibration of the fixture's plan values with random ranges and histograms (what is stored is what matters). */
function randomCalibration(): Calibration {
  const { valueOf, spec } = lowerGraph(model.graph);
  const next = rng(8);
  return {
    valueOf,
    ranges: Float32Array.from({ length: 2 * spec.values }, () => next() * 4 - 2),
    histograms: Float64Array.from({ length: HISTOGRAM_BINS * spec.values }, () => Math.floor(next() * 100)),
    settings: { sigma: 0.25, count: 16, seed: 3, data: 'npy:x.npy,y.npy' },
  };
}

const record = (calibration: Calibration) => JSON.parse(encodeCalibration(calibration)) as Record<string, unknown>;
const pack = (array: Float32Array | Float64Array) => deflateSync(Buffer.from(array.buffer, array.byteOffset, array.byteLength)).toString('base64');

describe('carried calibration', () => {
  test('comes back exactly as it was written; a file without one carries none', () => {
    const calibration = randomCalibration();
    const back = carriedCalibration(withMetadata(encodeCalibration(calibration)), model.graph, 'm.onnx')!;
    expect([...back.valueOf]).toEqual([...calibration.valueOf]);
    expect(back.ranges).toEqual(calibration.ranges);
    expect(back.histograms).toEqual(calibration.histograms);
    expect(back.settings).toEqual(calibration.settings);
    expect(carriedCalibration(withMetadata(undefined), model.graph, 'm.onnx')).toBeUndefined();
  });

  test('damaged records are refused, naming the file and what is wrong', () => {
    const calibration = randomCalibration();
    const good = record(calibration);
    const read = (value: unknown) => () => carriedCalibration(withMetadata(typeof value === 'string' ? value : JSON.stringify(value)), model.graph, 'm.onnx');
    expect(read('{"format": ')).toThrow(/^m\.onnx: metadata arq\.calibration is not JSON \(/);
    expect(read({ ...good, format: 'arq-calibration/2' })).toThrow(/^m\.onnx: metadata arq\.calibration is not arq-calibration\/1$/);
    const values = [...calibration.valueOf];
    const [firstName, firstValue] = values[0];
    const renumbered = [[firstName, firstValue + 1], ...values.slice(1)];
    expect(read({ ...good, values: renumbered })).toThrow(`m.onnx: the carried calibration does not fit the graph (value '${firstName}')`);
    expect(read({ ...good, values: values.slice(1) })).toThrow(`m.onnx: the carried calibration does not fit the graph (value '${firstName}')`);
    expect(read({ ...good, values: [...values, ['extra', values.length]] })).toThrow("m.onnx: the carried calibration does not fit the graph (value 'extra')");
    const truncated = deflateSync(Buffer.alloc(4 * calibration.ranges.length - 1)).toString('base64');
    expect(read({ ...good, ranges: truncated })).toThrow(/^m\.onnx: the carried calibration is truncated$/);
    const values2 = calibration.ranges.length / 2;
    expect(read({ ...good, ranges: pack(calibration.ranges.subarray(2)) })).toThrow(`m.onnx: the carried calibration has ${values2 - 1} values, the graph ${values2}`);
    // A histogram short of one bin: the ranges are whole, so the message counts their values.
    expect(read({ ...good, histograms: pack(calibration.histograms.subarray(1)) })).toThrow(`m.onnx: the carried calibration has ${values2} values, the graph ${values2}`);
  });
});
