// HAQ's protocol: a search's final policies fine-tuned with QAT before their final CERTIFY (--final-finetune-steps),
// added to a finished search by a resume, kept on disk, and the network certified the one fineTune() makes.
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { search, type SearchOptions } from '../../src/search/search.js';
import { bundledModelPath, loadModel } from '../../src/onnx/model.js';
import { loadDataset } from '../../src/data/index.js';
import { encodeNpy, readNpySync } from '../../src/data/npy.js';
import { calibrate } from '../../src/quant/calibrate.js';
import { makePolicy } from '../../src/quant/policy.js';
import { fineTune, layerTensorsOf } from '../../src/train/qat.js';
import type { EpisodeRecord } from '../../src/report/types.js';
import { rulesLine } from '../../src/cli/search-table.js';

const TOY: Omit<SearchOptions, 'out'> = {
  model: bundledModelPath(), data: 'mnist', episodes: 2, warmup: 1, baselines: ['uniform'], valImages: 6, cleanImages: 200, testImages: 6,
  n0: 50, n: 400, np: 40, finalN: 400, calibrationCount: 32, seed: 7, threads: 2,
};
const STEPS = 3;

const outcome = (records: EpisodeRecord[]) => records.map(({ timings: _t, ...rest }) => rest);

describe('final fine-tune', () => {
  it('fine-tunes every final policy of a finished search on resume, keeps the searches, and certifies the fine-tuned network', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'arq-final-qat-'));
    const plain = await search({ ...TOY, out: dir });
    const plainQdq = readFileSync(path.join(dir, 'best-policy.qdq.onnx'));

    const stages: string[] = [];
    const qatSteps: number[] = [];
    const run = search({ ...TOY, out: dir, resume: true, finalFinetuneSteps: STEPS });
    run.on('stage', ({ stage }) => stages.push(stage));
    run.on('progress', ({ stage, done }) => {
      if (stage === 'qat-arq') qatSteps.push(done);
    });
    const { report } = await run;
    expect(report.settings.final_finetune_steps).toBe(STEPS);
    expect(outcome(report.episodes)).toEqual(outcome(plain.report.episodes));
    expect(stages).toEqual(['calibrate', 'float-validation', 'search-arq', 'final-float', 'qat-arq', 'final-arq', 'qat-uniform', 'final-uniform', 'speed', 'report']);
    expect(qatSteps).toEqual([1, 2, 3]);
    // The float entry is not fine-tuned: its finished results are kept; each policy's go to a file of their own.
    expect(report.float!.results).toBe(path.join('final', 'float.tsv'));
    expect(report.float!.certified_radii).toEqual(plain.report.float!.certified_radii);
    expect(report.arq!.results).toBe(path.join('final', `arq.qat${STEPS}.tsv`));
    expect(report.uniform!.results).toBe(path.join('final', `uniform.qat${STEPS}.tsv`));
    expect(existsSync(path.join(dir, plain.report.arq!.results))).toBe(true);
    // The table and report.html say so beside the rules.
    expect(rulesLine(report)).toContain(`every quantized row fine-tuned for ${STEPS} QAT steps from the model`);
    expect(rulesLine(plain.report)).not.toContain('fine-tuned');
    expect(readFileSync(path.join(dir, 'report.html'), 'utf8')).toContain(`every quantized row fine-tuned for ${STEPS} QAT steps from the model`);
    // The deployed winner is the fine-tuned network.
    expect(readFileSync(path.join(dir, 'best-policy.qdq.onnx')).equals(plainQdq)).toBe(false);

    // What is kept is fineTune() of the policy from the model, with the search's calibration, training split, sigma and seed.
    const model = await loadModel(bundledModelPath());
    const val = await loadDataset('mnist', 'train');
    const calibration = await calibrate(model.graph, val, { sigma: 0.25, count: 32, seed: 7, threads: 2 });
    const stored = readdirSync(path.join(dir, 'final', 'finetuned')).map((f) => path.join(dir, 'final', 'finetuned', f));
    expect(stored).toHaveLength(2);
    const expected = await fineTune({ graph: model.graph, policy: makePolicy(model.sha256, report.arq!.policy ?? []), calibration, train: val, sigma: 0.25, steps: STEPS, seed: 7, threads: 2 });
    const flat = layerTensorsOf(expected.graph).flatMap((t) => [...t]);
    const holding = stored.filter((file) => {
      const data = readNpySync(file).data as Float32Array;
      return data.length === flat.length && data.every((v, i) => Object.is(v, flat[i]));
    });
    expect(holding).toHaveLength(1);

    // A second resume finds each fine-tune on disk (no step runs) and repeats the same numbers.
    const again = search({ ...TOY, out: dir, resume: true, finalFinetuneSteps: STEPS });
    const steps: string[] = [];
    again.on('progress', ({ stage }) => {
      if (stage.startsWith('qat-')) steps.push(stage);
    });
    const { report: repeated } = await again;
    expect(steps).toEqual([]);
    expect(repeated.arq!.certified_radii).toEqual(report.arq!.certified_radii);
    expect(repeated.uniform!.certified_radii).toEqual(report.uniform!.certified_radii);

    // A kept file that is not a fine-tune of this model is refused, not certified.
    writeFileSync(holding[0], encodeNpy(new Float32Array(5), [5]));
    await expect(search({ ...TOY, out: dir, resume: true, finalFinetuneSteps: STEPS })).rejects.toThrow(/does not hold a fine-tune of this model/);
    // Only the final fine-tune may change on resume: the search-time one shapes the episodes.
    await expect(search({ ...TOY, out: dir, resume: true, finetuneSteps: 1 })).rejects.toThrow(/different settings: finetune_steps/);
  }, 240_000);
});
