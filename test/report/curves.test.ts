import { describe, expect, it } from 'vitest';
import { certifiedCurve, runningBest } from '../../src/report/curves.js';

/** The step function the vertices draw (horizontal to the next vertex, then vertical), evaluated at r > 0. */
function stepAt(vertices: { x: number; y: number }[], r: number): number {
  let y = vertices[0].y;
  for (const v of vertices) if (v.x < r) y = v.y;
  return y;
}

describe('certifiedCurve', () => {
  it('gives the exact fraction certified at radius >= r, nulls counting in the denominator', () => {
    const radii = [0.3, null, 0.3, 1.2, null, 0.05, 0.8, null];
    const curve = certifiedCurve(radii, 2);
    expect(curve[0]).toEqual({ x: 0, y: 5 / 8 });
    for (const r of [0.01, 0.05, 0.1, 0.3, 0.31, 0.8, 1, 1.2, 1.5]) {
      const exact = radii.filter((x) => x !== null && x >= r).length / radii.length;
      expect(stepAt(curve, r), `r = ${r}`).toBeCloseTo(exact, 12);
    }
    expect(curve.at(-1)).toEqual({ x: 2, y: 0 });
  });

  it('merges tied radii into one drop', () => {
    expect(certifiedCurve([0.5, 0.5, 0.5, 1])).toEqual([
      { x: 0, y: 1 },
      { x: 0.5, y: 0.25 },
      { x: 1, y: 0 },
    ]);
  });

  it('is flat at zero when nothing is certified, and empty for no images', () => {
    expect(certifiedCurve([null, null], 1)).toEqual([
      { x: 0, y: 0 },
      { x: 1, y: 0 },
    ]);
    expect(certifiedCurve([])).toEqual([]);
  });
});

describe('runningBest', () => {
  it('is the running maximum, skipping NaN', () => {
    expect(runningBest([-3, -1, -2, NaN, 0, -5])).toEqual([-3, -1, -1, -1, 0, 0]);
    expect(runningBest([NaN, 1])).toEqual([NaN, 1]);
  });
});
