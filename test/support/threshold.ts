/**
 * A base classifier with exactly known class probabilities, for soundness tests of smoothing: one input value x,
 * logits [t - x, x - t], so class 0 iff x + noise < t: P(class 0) = Phi((t - x) / sigma). It is a real ONNX model
 * run by the real engines, so the tests exercise the production sampling path.
 */
import { OnnxBuilder } from '../../src/onnx/write.js';
import { modelFromBytes, type LoadedModel } from '../../src/onnx/model.js';

export function thresholdModel(threshold: number): LoadedModel {
  const b = new OnnxBuilder(13).input('x', ['N', 1]).output('logits', ['N', 2]);
  b.initializer('w', { dims: [2, 1], dataType: 'float', values: [-1, 1] });
  b.initializer('b', { dims: [2], dataType: 'float', values: [threshold, -threshold] });
  b.node('Gemm', ['x', 'w', 'b'], 'logits', { transB: 1 }, 'threshold');
  return modelFromBytes(b.encode(), `threshold(${threshold})`);
}
