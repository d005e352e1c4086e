/** Loading a model file: bytes, identity (sha256, as policies reference it) and the imported graph. */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Graph } from '../graph/ir.js';
import { decodeModel, importModel, modelOpset } from './import.js';
import { importQdq, isQdqModel, type QdqGrids } from './qdq-import.js';
import { ArqError } from '../util/errors.js';

export interface LoadedModel {
  readonly path: string;
  readonly bytes: Uint8Array;
  readonly sha256: string;
  readonly opset: number;
  readonly producer: string;
  /** The float network (for a QDQ file: the network it fake-quantizes, with dequantized weights). */
  readonly graph: Graph;
  /** A QDQ file's grids, which `--engine int` uses instead of a policy and a calibration (onnx/qdq-import.ts). */
  readonly qdq?: QdqGrids;
}

export function modelFromBytes(bytes: Uint8Array, source: string): LoadedModel {
  const proto = decodeModel(bytes, source);
  const qdq = isQdqModel(proto) ? importQdq(proto, source) : undefined;
  const graph = qdq?.graph ?? importModel(proto, source);
  const producer = [proto.producerName, proto.producerVersion].filter(Boolean).join(' ');
  return { path: source, bytes, sha256: createHash('sha256').update(bytes).digest('hex'), opset: modelOpset(proto), producer, graph, ...(qdq ? { qdq: qdq.grids } : {}) };
}

export async function loadModel(path: string): Promise<LoadedModel> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new ArqError(`cannot read model ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  return modelFromBytes(bytes, path);
}

/** The QA-IBP-trained MNIST model (8-bit) the package ships, with its calibration: `arq verify`'s default. */
export function bundledVerifyModelPath(): string {
  return fileURLToPath(new URL('../../models/mnist-qaibp-w8a8.onnx', import.meta.url));
}

/** The noise-trained MNIST model the package ships (models/, beside dist/ and src/): `arq search`'s default. */
export function bundledModelPath(): string {
  return fileURLToPath(new URL('../../models/mnist-cnn-s025.onnx', import.meta.url));
}
