/**
 * A base classifier given as a list: noise sample k (of any image) is classified as classOf(k). Like every Sampler it
 * is a deterministic function of the sample number, so each call's counts are known in advance and PREDICT, CERTIFY
 * and IRS can be checked on hand-computed statistics.
 */
import type { Sampler } from '../../src/smoothing/sampler.js';

export function scriptedSampler(classes: number, classOf: (sample: number) => number, sigma = 0.5): Sampler {
  return {
    classes,
    inputSize: 1,
    sigma,
    sample: async (_image, _index, first, count, record) => {
      const counts = new Uint32Array(classes);
      const predictions = record ? new Uint8Array(count) : null;
      for (let i = 0; i < count; i++) {
        const c = classOf(first + i);
        counts[c]++;
        if (predictions) predictions[i] = c;
      }
      return { counts, predictions };
    },
    close: async () => {},
  };
}
