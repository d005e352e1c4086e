/**
 * Clean accuracy and the fraction of a test set the integer plan's interval bounds alone certify (verify's first
 * stage: a lower bound on verified accuracy), per radius, with the calibration `arq verify` would use (the file's
 * own, else 256 training images at `sigma`).
 */
import type { Dataset } from '../../src/data/dataset.js';
import { IntPlan } from '../../src/engine/int-plan.js';
import { loadModel } from '../../src/onnx/model.js';
import { prepareQuantization } from '../../src/quant/quantize.js';
import { certifiedCount } from '../../src/train/ibp.js';

export interface IbpCertifiedOptions {
  readonly bits?: string;
  readonly policy?: string;
  /** The --data spec of the calibration's training split. */
  readonly data: string;
  readonly sigma: number;
  readonly threads: number;
  readonly radii: readonly number[];
}

export async function ibpCertified(model: string, test: Dataset, o: IbpCertifiedOptions): Promise<{ clean: number; certified: number[] }> {
  const loaded = await loadModel(model);
  const { policy, calibration } = await prepareQuantization(loaded, { bits: o.bits, policy: o.policy, data: o.data, sigma: o.sigma, calibrationCount: 256, seed: 0, threads: o.threads });
  const plan = await IntPlan.create(loaded.graph, policy, calibration);
  const logits = await plan.run(test.images, test.count, o.threads);
  const clean = certifiedCount(logits, logits, logits, test.labels, plan.classes).correct / test.count;
  const size = test.images.length / test.count;
  const certified = [];
  for (const eps of o.radii) {
    let count = 0;
    for (let first = 0; first < test.count; first += 1000) {
      const images = test.images.subarray(first * size, (first + 1000) * size);
      const n = images.length / size;
      const bounds = await plan.intervalBounds(images.map((x) => Math.max(x - eps, 0)), images.map((x) => Math.min(x + eps, 1)), n, o.threads);
      const out = bounds.values[bounds.values.length - 1];
      count += certifiedCount(out.lo, out.hi, logits.subarray(first * plan.classes, (first + n) * plan.classes), test.labels.subarray(first, first + n), plan.classes).certified;
    }
    certified.push(count / test.count);
  }
  return { clean, certified };
}
