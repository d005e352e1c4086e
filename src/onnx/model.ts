/** Loading a model file: bytes, identity (sha256, as policies reference it) and the imported graph. */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Graph } from '../graph/ir.js';
import { decodeModel, importModel, modelOpset } from './import.js';
import { ArqError } from '../util/errors.js';

export interface LoadedModel {
  readonly path: string;
  readonly bytes: Uint8Array;
  readonly sha256: string;
  readonly opset: number;
  readonly producer: string;
  readonly graph: Graph;
}

export function modelFromBytes(bytes: Uint8Array, source: string): LoadedModel {
  const proto = decodeModel(bytes, source);
  const graph = importModel(proto, source);
  const producer = [proto.producerName, proto.producerVersion].filter(Boolean).join(' ');
  return { path: source, bytes, sha256: createHash('sha256').update(bytes).digest('hex'), opset: modelOpset(proto), producer, graph };
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

/** The noise-trained MNIST model the package ships (models/, beside dist/ and src/): `arq search`'s default. */
export function bundledModelPath(): string {
  return fileURLToPath(new URL('../../models/mnist-cnn-s025.onnx', import.meta.url));
}
