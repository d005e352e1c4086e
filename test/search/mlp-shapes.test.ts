// agent/mlp.ts's Dense layer against plain loops written from its definition (y = bias + W x, row-major [out][in];
// dL/dx = W^T dL/dy, dL/dW += dL/dy x^T, dL/db += sum over the batch), at every batch size from 1 to 9 and odd and
// even widths: the unrolled passes (four batch rows and two weight rows at a time) and their remainder loops, which
// the agent's batches of 64 and even widths never reach, must give the same numbers. Integer-valued inputs keep
// every sum exact, so the comparison is for equality.
import { describe, expect, test } from 'vitest';
import { Dense } from '../../src/search/agent/mlp.js';

/** Small integers from a seed (exact in float64 sums). */
const values = (n: number, seed: number) => Float64Array.from({ length: n }, (_, i) => ((i * 7 + seed * 13) % 11) - 5);

function reference(inSize: number, outSize: number, w: Float64Array, bias: Float64Array, x: Float64Array, gy: Float64Array, batch: number) {
  const y = new Float64Array(batch * outSize);
  const gx = new Float64Array(batch * inSize);
  const gw = new Float64Array(outSize * inSize);
  const gb = new Float64Array(outSize);
  for (let b = 0; b < batch; b++) {
    for (let o = 0; o < outSize; o++) {
      let s = bias[o];
      for (let i = 0; i < inSize; i++) s += w[o * inSize + i] * x[b * inSize + i];
      y[b * outSize + o] = s;
      const g = gy[b * outSize + o];
      gb[o] += g;
      for (let i = 0; i < inSize; i++) {
        gx[b * inSize + i] += g * w[o * inSize + i];
        gw[o * inSize + i] += g * x[b * inSize + i];
      }
    }
  }
  return { y, gx, gw, gb };
}

describe('Dense against plain loops', () => {
  for (const [inSize, outSize] of [[5, 3], [4, 4], [3, 1], [6, 7]]) {
    test(`in ${inSize}, out ${outSize}, batches 1 to 9, forward and backward`, () => {
      for (let batch = 1; batch <= 9; batch++) {
        const layer = new Dense(inSize, outSize);
        layer.weight.set(values(outSize * inSize, 1));
        layer.bias.set(values(outSize, 2));
        const x = values(batch * inSize, 3 + batch);
        // some zero gradients, in whole groups of four rows too (the pass skips those); then gradients nonzero at one
        // position of every group of four only (rows, then columns), so that a group is skipped only when all four are 0
        const patterns = [
          (j: number) => Math.floor(j / outSize) % 5 !== 1,
          ...[0, 1, 2, 3].flatMap((k) => [(j: number) => Math.floor(j / outSize) % 4 === k, (j: number) => (j % outSize) % 4 === k]),
        ];
        for (const [p, keep] of patterns.entries()) {
          const gy = values(batch * outSize, 5 + batch).map((v, j) => (keep(j) ? v : 0));
          const want = reference(inSize, outSize, layer.weight, layer.bias, x, gy, batch);
          expect(Array.from(layer.forward(x, batch)), `forward, batch ${batch}`).toEqual(Array.from(want.y));
          expect(Array.from(layer.backward(x, gy, batch, false)), `dL/dx without parameters, batch ${batch}, pattern ${p}`).toEqual(Array.from(want.gx));
          expect(Array.from(layer.gradWeight)).toEqual(new Array(outSize * inSize).fill(0));
          expect(Array.from(layer.backward(x, gy, batch, true)), `dL/dx, batch ${batch}, pattern ${p}`).toEqual(Array.from(want.gx));
          expect(Array.from(layer.gradWeight), `dL/dW, batch ${batch}, pattern ${p}`).toEqual(Array.from(want.gw));
          expect(Array.from(layer.gradBias), `dL/db, batch ${batch}, pattern ${p}`).toEqual(Array.from(want.gb));
          layer.gradWeight.fill(0);
          layer.gradBias.fill(0);
        }
      }
    });
  }
});
