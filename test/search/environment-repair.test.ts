// The environment's episode after a repair: the stored action of every width the repair lowered is the action of
// the width that ran (around the fair width its step saw), the others stay as acted; an episode refuses to finish
// early or to take a step past its end.
import { describe, expect, it } from 'vitest';
import { actionOfBits, QuantizationEnvironment } from '../../src/search/environment.js';
import { loadFixture } from '../support/fixtures.js';

const resnet = loadFixture('resnet20');

describe('an episode forced over budget', () => {
  it('stores the actions of the repaired widths, and refuses to finish early or to step past its end', () => {
    const env = new QuantizationEnvironment(resnet.graph, { budget: 0.03 });
    const run = env.episode();
    expect(() => run.finish()).toThrow(`episode finished after 0 of ${env.steps} steps`);
    const acted: number[] = [];
    for (let step = 0; step < env.steps; step++) acted.push(run.force(8));
    expect(() => run.force(8)).toThrow(`episode has only ${env.steps} steps`);
    const outcome = run.finish();
    expect(outcome.repair.lowered).toBeGreaterThan(0);
    let changed = 0;
    outcome.layers.forEach((layer, i) => {
      [layer.wbits, layer.abits].forEach((bits, kind) => {
        const step = 2 * i + kind;
        if (bits === 8) expect(outcome.actions[step]).toBe(acted[step]);
        else {
          changed++;
          expect(outcome.actions[step]).toBe(actionOfBits(bits, outcome.fairs[step]));
        }
      });
    });
    expect(changed).toBeGreaterThan(0);
    expect(changed).toBeLessThan(env.steps);
  });
});
