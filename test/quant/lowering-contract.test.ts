// One lowering per build: a calibration keeps the numbering of the lowering that recorded it (graph/lower.ts), and
// every reader of its statistics (the integer plan, its spec, the QAT net, a carried calibration) checks that the
// graph it builds lowers to that numbering, refusing a calibration made for another graph with a clear message
// instead of reading another value's grid. A graph with new weights and the same structure (a QAT result) fits.
import { beforeAll, describe, expect, test } from 'vitest';
import { makeDataset } from '../../src/data/index.js';
import { HISTOGRAM_BINS, IntPlan, intPlanSpec } from '../../src/engine/int-plan.js';
import { lowerGraph } from '../../src/graph/lower.js';
import type { Graph } from '../../src/graph/ir.js';
import { calibrate, type Calibration } from '../../src/quant/calibrate.js';
import { uniformPolicy } from '../../src/quant/policy.js';
import { QatNet, qatNetSpec } from '../../src/train/qat.js';
import { loadFixture } from '../support/fixtures.js';

const mlp = loadFixture('tiny_mlp');
const cnn = loadFixture('mnist_cnn');
const policy = uniformPolicy(mlp.graph, mlp.sha256, 4, 4);

async function calibrationOf(graph: Graph): Promise<Calibration> {
  const [c, h, w] = graph.input.shape;
  const images = Float32Array.from({ length: 16 * c * h * w }, (_, i) => ((i * 40503) % 1000) / 1000);
  return calibrate(graph, makeDataset({ name: 'contract', shape: [c, h, w], images, labels: new Int32Array(16) }), { sigma: 0.25, count: 16, threads: 1 });
}

/** Every build of an integer network from `graph` under `calibration`. */
const readers = (graph: Graph, calibration: Calibration): [string, () => Promise<unknown>][] => [
  ['intPlanSpec', async () => intPlanSpec(graph, policy, calibration)],
  ['IntPlan.build', async () => IntPlan.build(graph, policy, calibration)],
  ['IntPlan.create', () => IntPlan.create(graph, policy, calibration)],
  ['qatNetSpec', async () => qatNetSpec(graph, policy, calibration)],
  ['QatNet.build', async () => QatNet.build(graph, policy, calibration)],
];

let calibration: Calibration;
beforeAll(async () => {
  calibration = await calibrationOf(mlp.graph);
});

describe('a calibration carries the numbering it was recorded under', () => {
  test('calibrate keeps the numbering of its own lowering, with statistics for every plan value', () => {
    const lowered = lowerGraph(mlp.graph);
    expect([...calibration.valueOf]).toEqual([...lowered.valueOf]);
    expect(calibration.ranges.length).toBe(2 * lowered.spec.values);
    expect(calibration.histograms.length).toBe(HISTOGRAM_BINS * lowered.spec.values);
  });

  test('a calibration of another graph is refused by every build, naming the first value that does not fit', async () => {
    const other = await calibrationOf(cnn.graph);
    for (const [name, build] of readers(mlp.graph, other)) {
      await expect(build(), name).rejects.toThrow("the calibration does not fit the graph (value '/flatten/Flatten_output_0')");
    }
  });

  test('the same values numbered otherwise, one missing or one extra are refused', async () => {
    const entries = [...calibration.valueOf];
    const renumbered = new Map(entries.map(([name, value]) => [name, name === '/Relu_output_0' ? value + 1 : value]));
    const missing = new Map(entries.filter(([name]) => name !== 'logits'));
    const extra = new Map([...entries, ['/extra', 1]]);
    for (const [valueOf, value] of [[renumbered, '/Relu_output_0'], [missing, 'logits'], [extra, '/extra']] as const) {
      for (const [name, build] of readers(mlp.graph, { ...calibration, valueOf })) {
        await expect(build(), name).rejects.toThrow(`the calibration does not fit the graph (value '${value}')`);
      }
    }
  });

  test('statistics short of a value are refused', async () => {
    const values = calibration.ranges.length / 2;
    const short = { ...calibration, ranges: calibration.ranges.subarray(2), histograms: calibration.histograms.subarray(HISTOGRAM_BINS) };
    for (const [name, build] of readers(mlp.graph, short)) {
      await expect(build(), name).rejects.toThrow(`the calibration has ${values - 1} values, the graph ${values}`);
    }
  });

  test('a graph with new weights and the same structure (a QAT result) fits, on the very grids', async () => {
    const retrained: Graph = {
      ...mlp.graph,
      nodes: mlp.graph.nodes.map((node) => (node.op === 'gemm' ? { ...node, weight: node.weight.map((x) => 0.9 * x) } : node)),
    };
    for (const [name, build] of readers(retrained, calibration)) await expect(build(), name).resolves.toBeDefined();
    expect(intPlanSpec(retrained, policy, calibration).grids).toEqual(intPlanSpec(mlp.graph, policy, calibration).grids);
  });
});
