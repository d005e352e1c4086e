import { expect, test } from 'vitest';
import { layerCosts, totalCost } from '../../src/graph/cost.js';
import { loadFixture } from '../support/fixtures.js';

test('conv MACs are C_out*H_out*W_out*(C_in/groups)*kh*kw and gemm MACs are in*out', () => {
  const layers = layerCosts(loadFixture('mnist_cnn').graph);
  // conv1: 16x28x28 outputs, 1x3x3 taps; conv2: 32x14x14 outputs (after F.pad 1 on 14x14), 16x3x3 taps.
  expect(layers.map((l) => l.macs)).toEqual([16 * 28 * 28 * 9, 32 * 14 * 14 * 16 * 9, 32 * 7 * 7 * 64, 64 * 10]);
  expect(layers[0].params).toBe(16 * 9 + 16);
});

test('ResNet-20 (CIFAR) has about 41M MACs and 0.27M parameters', () => {
  const total = totalCost(loadFixture('resnet20').graph);
  expect(total.macs).toBeGreaterThan(40e6);
  expect(total.macs).toBeLessThan(42e6);
  expect(total.params).toBeGreaterThan(0.26e6);
  expect(total.params).toBeLessThan(0.285e6);
  expect(total.floatBitOps).toBe(total.macs * 1024);
});

test('depthwise convolutions count C_in/groups = 1 input channel per output', () => {
  const { graph } = loadFixture('mobilenetv2');
  const layers = layerCosts(graph);
  for (const node of graph.nodes) {
    if (node.op !== 'conv' || node.group === 1) continue;
    const layer = layers.find((l) => l.name === node.name)!;
    const [c, h, w] = graph.shapes.get(node.output)!;
    expect(layer.macs).toBe(c * h * w * node.kernel[0] * node.kernel[1]);
  }
});
