/** The committed PyTorch-exported fixtures (scripts/fixtures/export_fixtures.py) and their reference outputs. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeNpy, npyAsFloat32 } from '../../src/data/index.js';
import { modelFromBytes, type LoadedModel } from '../../src/onnx/model.js';

export const FIXTURE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures');
export const FIXTURES = ['mnist_cnn', 'mnist_cnn_bn', 'resnet20', 'mobilenetv2', 'grey_repeat', 'tiny_mlp'] as const;
export type FixtureName = (typeof FIXTURES)[number];

export function fixturePath(name: FixtureName): string {
  return path.join(FIXTURE_DIR, `${name}.onnx`);
}

export function loadFixture(name: FixtureName): LoadedModel {
  return modelFromBytes(readFileSync(fixturePath(name)), fixturePath(name));
}

export function fixtureArrays(name: FixtureName): { input: Float32Array; batch: number; logits: Float32Array } {
  const input = decodeNpy(readFileSync(path.join(FIXTURE_DIR, `${name}.input.npy`)));
  const logits = decodeNpy(readFileSync(path.join(FIXTURE_DIR, `${name}.logits.npy`)));
  return { input: npyAsFloat32(input), batch: input.shape[0], logits: npyAsFloat32(logits) };
}

/** max |a - b| / max(1, max |b|): the logit-scale-relative difference the float paths are held to. */
export function relativeMaxDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let diff = 0;
  let scale = 1;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}
