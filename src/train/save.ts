/** Writing a trained network: the ONNX file (training settings in its metadata) and OUT.json beside it. */
import { createHash } from 'node:crypto';
import { writeFileAtomic } from '../util/files.js';
import { exportTrainGraph, EXPORT_OPSET } from './export.js';
import { EVAL_NOISE_SEED, type TrainResult } from './train.js';

export interface SavedModel {
  readonly model: string;
  readonly sidecar: string;
  readonly sha256: string;
  readonly onnx_size_bytes: number;
  readonly training_seconds: number;
  readonly samples_per_second: number;
  readonly history: TrainResult['history'];
}

/** OUT without a final .onnx: the sidecar OUT.json (and, for QAT, OUT.policy.json) are named from it. */
export function outputBase(out: string): string {
  return out.endsWith('.onnx') ? out.slice(0, -'.onnx'.length) : out;
}

/** Writes `out` (ONNX) and `out` with .onnx replaced by .json: the command, settings, per-epoch history, identity. */
export function saveTrainedModel(result: TrainResult, out: string, command: string): SavedModel {
  const bytes = exportTrainGraph(result.graph, { 'arq.train.settings': JSON.stringify(result.settings) });
  writeFileAtomic(out, bytes);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const sidecar = `${outputBase(out)}.json`;
  const { input, shapes, output } = result.graph;
  const last = result.history[result.history.length - 1];
  writeFileAtomic(sidecar, `${JSON.stringify({
    model: out.split('/').pop(),
    command,
    produced_by: 'arq train',
    opset: EXPORT_OPSET,
    input: { name: input.name, shape: ['batch', ...(input.rank === 4 ? input.shape : [input.shape[0]])], range: '[0,1] (+ noise)' },
    output: { name: output, shape: ['batch', shapes.get(output)![0]] },
    settings: result.settings,
    noise: 'x + sigma*N(0,1) on the [0,1] image before normalization, unclipped; native Philox noise keyed by (seed, image, epoch)',
    training_time_s: Number(result.seconds.toFixed(1)),
    samples_per_second: Number(result.samplesPerSecond.toFixed(0)),
    history: result.history,
    test_acc_clean: last?.testAccuracy,
    test_acc_noisy: last?.testAccuracyNoisy,
    test_noise: `one N(0, sigma^2) draw per test image from arq's noise generator, seed ${EVAL_NOISE_SEED}, unclipped`,
    sha256,
    onnx_size_bytes: bytes.length,
  }, null, 2)}\n`);
  return { model: out, sidecar, sha256, onnx_size_bytes: bytes.length, training_seconds: result.seconds, samples_per_second: result.samplesPerSecond, history: result.history };
}
