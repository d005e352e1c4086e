/**
 * Agreement between arq's integer engine and ONNX Runtime on one QDQ file (`arq compare`): both run the file
 * (the integer engine on the file's own grids, ONNX Runtime on the file as it is) over clean images and over
 * noisy copies of them (the inputs a smoothed classifier sees), and the report counts top-1 agreement, measures the
 * logit differences and lists every input on which the two predict different classes.
 */
import type { Dataset } from '../data/index.js';
import type { LoadedModel } from '../onnx/model.js';
import { noisyCopy } from './noise.js';
import { shapeSize } from '../graph/ir.js';
import { ArqError } from '../util/errors.js';
import { integerInRange } from '../util/check.js';
import { argmax, createClassifier, type Classifier } from './classifier.js';
import { checkBatch, checkSeed, checkSigma } from './settings.js';

export interface AgreementOptions {
  /** Gaussian noise of the noisy copies (default 0.25). */
  readonly sigma?: number;
  /** Noisy copies per image (default 10; 0: clean images only). */
  readonly noisy?: number;
  /** Noise seed (default 0): copy s of image i is noisyCopy(image, sigma, seed, i, s), as certification draws it. */
  readonly seed?: number;
  readonly threads?: number;
  /** Inputs per engine call (default 500). */
  readonly batch?: number;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface AgreementCounts {
  readonly inputs: number;
  /** Inputs on which both engines predict the same class (argmax, ties to the lowest class). */
  readonly agree: number;
  readonly max_logit_diff: number;
  readonly mean_logit_diff: number;
  /** Inputs whose logits are bit-identical in both engines. */
  readonly identical: number;
}

export interface Disagreement {
  readonly image: number;
  /** The noisy copy, or null for the clean image. */
  readonly sample: number | null;
  readonly int: number;
  readonly ort: number;
  readonly max_logit_diff: number;
}

export interface AgreementReport {
  readonly model: string;
  readonly data: string;
  readonly images: number;
  readonly sigma: number;
  readonly seed: number;
  readonly clean: AgreementCounts;
  readonly noisy: AgreementCounts;
  readonly disagreements: readonly Disagreement[];
}

class Tally {
  inputs = 0;
  agree = 0;
  identical = 0;
  maxDiff = 0;
  sumDiff = 0;

  counts(): AgreementCounts {
    return { inputs: this.inputs, agree: this.agree, identical: this.identical, max_logit_diff: this.maxDiff, mean_logit_diff: this.inputs ? this.sumDiff / this.inputs : 0 };
  }
}

/** Runs `model` (a QDQ file) in both engines over `dataset` and its noisy copies. */
export async function compareWithOrt(model: LoadedModel, dataset: Dataset, options: AgreementOptions = {}): Promise<AgreementReport> {
  if (!model.qdq) throw new ArqError(`${model.path}: not a QDQ file (no QuantizeLinear/DequantizeLinear): arq compare compares the integer engine on a QDQ file's grids with ONNX Runtime`);
  const sigma = checkSigma(options.sigma ?? 0.25);
  const noisy = integerInRange('noisy', options.noisy ?? 10, 0, 1_000_000);
  const seed = checkSeed(options.seed ?? 0);
  const batch = checkBatch(options.batch ?? 500);
  const size = shapeSize(model.graph.input.shape);
  if (shapeSize(dataset.shape) !== size) throw new ArqError(`the model expects images of ${size} values, ${dataset.name} has [${dataset.shape.join(', ')}]`);
  const [int, ort] = await Promise.all([createClassifier(model, 'int', { threads: options.threads }), createClassifier(model, 'ort', { threads: options.threads })]);
  const tallies = { clean: new Tally(), noisy: new Tally() };
  const disagreements: Disagreement[] = [];
  const total = dataset.count * (1 + noisy);
  let done = 0;
  try {
    // Inputs in order: per image, the clean image then its noisy copies; run in batches of whole inputs.
    const pending: { image: number; sample: number | null; values: Float32Array }[] = [];
    const flush = async () => {
      if (pending.length === 0) return;
      const images = new Float32Array(pending.length * size);
      pending.forEach((input, k) => images.set(input.values, k * size));
      await compareBatch(int, ort, images, pending, tallies, disagreements);
      done += pending.length;
      pending.length = 0;
      options.onProgress?.(done, total);
    };
    for (let i = 0; i < dataset.count; i++) {
      const image = dataset.images.subarray(i * size, (i + 1) * size);
      pending.push({ image: i, sample: null, values: image });
      for (let s = 0; s < noisy; s++) {
        pending.push({ image: i, sample: s, values: noisyCopy(image, sigma, seed, i, s) });
        if (pending.length >= batch) await flush();
      }
      if (pending.length >= batch) await flush();
    }
    await flush();
  } finally {
    await Promise.all([int.close(), ort.close()]);
  }
  return { model: model.path, data: dataset.name, images: dataset.count, sigma, seed, clean: tallies.clean.counts(), noisy: tallies.noisy.counts(), disagreements };
}

async function compareBatch(
  int: Classifier, ort: Classifier, images: Float32Array, inputs: readonly { image: number; sample: number | null }[],
  tallies: { clean: Tally; noisy: Tally }, disagreements: Disagreement[],
): Promise<void> {
  const count = inputs.length;
  const a = await int.logits(images, count);
  const b = await ort.logits(images, count);
  const classes = int.classes;
  if (b.length !== a.length) throw new ArqError(`ONNX Runtime returned ${b.length / count} logits per input, the integer engine ${classes}`);
  const [ca, cb] = [argmax(a, classes), argmax(b, classes)];
  inputs.forEach(({ image, sample }, k) => {
    let diff = 0;
    for (let c = k * classes; c < (k + 1) * classes; c++) diff = Math.max(diff, Math.abs(a[c] - b[c]));
    const tally = sample === null ? tallies.clean : tallies.noisy;
    tally.inputs++;
    tally.sumDiff += diff;
    tally.maxDiff = Math.max(tally.maxDiff, diff);
    tally.identical += Number(diff === 0);
    if (ca[k] === cb[k]) tally.agree++;
    else disagreements.push({ image, sample, int: ca[k], ort: cb[k], max_logit_diff: diff });
  });
}
