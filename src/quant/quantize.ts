/** The quantization step the commands share: resolve the policy, calibrate on noisy training images, cost it. */
import { loadDataset, trainingSpec } from '../data/index.js';
import type { LoadedModel } from '../onnx/model.js';
import { calibrate, type Calibration } from './calibrate.js';
import { carriedCalibration } from './carried-calibration.js';
import { policyCost, type PolicyCost } from './cost.js';
import { resolvePolicy, type Policy } from './policy.js';

export interface QuantizationOptions {
  /** `--policy FILE` or `--bits wXaY`. */
  readonly policy?: string;
  readonly bits?: string;
  /** Calibration images: a data spec (default: the training counterpart of `data`). */
  readonly calibrationData?: string;
  readonly data: string;
  /** Gaussian noise of the calibration images: the sigma the model is certified at. */
  readonly sigma: number;
  readonly calibrationCount?: number;
  readonly seed?: number;
  readonly threads?: number;
}

export interface Quantization {
  readonly policy: Policy;
  readonly calibration: Calibration;
  readonly cost: PolicyCost;
}

/** A calibration carried in the model file (a QAT output, quant/carried-calibration.ts) is used instead of a new one. */
export async function prepareQuantization(model: LoadedModel, options: QuantizationOptions): Promise<Quantization> {
  const policy = await resolvePolicy(options, model.graph, model.sha256);
  const calibration = carriedCalibration(model.bytes, model.graph, model.path) ?? await calibrate(
    model.graph, await loadDataset(options.calibrationData ?? trainingSpec(options.data), 'train'),
    { sigma: options.sigma, count: options.calibrationCount, seed: options.seed, threads: options.threads },
  );
  return { policy, calibration, cost: policyCost(model.graph, policy) };
}
