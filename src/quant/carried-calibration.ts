/**
 * A calibration carried inside an ONNX file (metadata_props key `arq.calibration`), so that the integer engine
 * builds the very grids a network was quantization-aware trained with instead of calibrating the file again (its
 * float activations moved during training, so a new calibration gives slightly different grids and another integer
 * network). The record is the whole calibration (per-value ranges and histograms, keyed by the ONNX value names),
 * not one policy's grids, so every policy resolves its grids from it exactly as from a fresh calibration.
 *
 * JSON: { format, settings, values: [[value name, plan value], ...], ranges, histograms } where ranges is the
 * float32 array and histograms the float64 array, each as little-endian bytes, deflated, base64.
 */
import { deflateSync, inflateSync } from 'node:zlib';
import type { Graph } from '../graph/ir.js';
import { lowerGraph } from '../graph/lower.js';
import { decodeModel } from '../onnx/import.js';
import { ArqError } from '../util/errors.js';
import { checkStatistics } from '../engine/int-plan.js';
import type { Calibration } from './calibrate.js';

export const CALIBRATION_KEY = 'arq.calibration';
const FORMAT = 'arq-calibration/1';

interface CarriedRecord {
  readonly format: string;
  readonly settings: Calibration['settings'];
  readonly values: [string, number][];
  readonly ranges: string;
  readonly histograms: string;
}

const pack = (array: Float32Array | Float64Array): string => deflateSync(Buffer.from(array.buffer, array.byteOffset, array.byteLength)).toString('base64');

function unpack<T extends Float32Array | Float64Array>(text: string, Type: { new (buffer: ArrayBuffer): T; BYTES_PER_ELEMENT: number }, source: string): T {
  const bytes = inflateSync(Buffer.from(text, 'base64'));
  if (bytes.byteLength % Type.BYTES_PER_ELEMENT !== 0) throw new ArqError(`${source}: the carried calibration is truncated`);
  return new Type(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** The metadata value recording `calibration`, for a file whose values keep their IR names. */
export function encodeCalibration(calibration: Calibration): string {
  const record: CarriedRecord = {
    format: FORMAT,
    settings: calibration.settings,
    values: [...calibration.valueOf],
    ranges: pack(calibration.ranges),
    histograms: pack(calibration.histograms),
  };
  return JSON.stringify(record);
}

/**
 * The calibration carried in the ONNX `bytes` whose imported graph is `graph`, or undefined when the file carries
 * none. Throws an ArqError naming `source` when the record is damaged or does not fit the graph (a value missing,
 * renumbered or extra), since grids read for the wrong values would be a silently different network.
 */
export function carriedCalibration(bytes: Uint8Array, graph: Graph, source: string): Calibration | undefined {
  const entry = (decodeModel(bytes, source).metadataProps ?? []).find((p) => p.key === CALIBRATION_KEY);
  if (!entry) return undefined;
  let record: CarriedRecord;
  try {
    record = JSON.parse(entry.value ?? '') as CarriedRecord;
  } catch (error) {
    throw new ArqError(`${source}: metadata ${CALIBRATION_KEY} is not JSON (${(error as Error).message})`);
  }
  if (record.format !== FORMAT) throw new ArqError(`${source}: metadata ${CALIBRATION_KEY} is not ${FORMAT}`);
  const calibration: Calibration = {
    valueOf: new Map(record.values),
    ranges: unpack(record.ranges, Float32Array, source),
    histograms: unpack(record.histograms, Float64Array, source),
    settings: record.settings,
  };
  // Checked here, before anything runs, so that the message names the file; every plan build checks again.
  try {
    checkStatistics(lowerGraph(graph), calibration, 'the carried calibration');
  } catch (error) {
    throw new ArqError(`${source}: ${(error as Error).message}`, { cause: error });
  }
  return calibration;
}
