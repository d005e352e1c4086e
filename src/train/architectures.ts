/**
 * Trainable architectures as training graphs (batch norm as its own node), for any input size, channel count and
 * class count: the small MNIST CNN of the bundled model, CIFAR-style ResNet-20/32/56/110 (He et al. 2016, 3 stages
 * of 16/32/64 channels, 1x1 conv + BN shortcuts where the shape changes) and MobileNetV2 (Sandler et al. 2018) with
 * a width multiplier, and two networks for certified (IBP) training: no batch norm, no pooling, no input
 * normalisation, strided VALID convolutions and dense layers (IBP's small and medium nets after Gowal et al. 2018, with
 * the second convolution strided, so that they train in minutes on two cores). Weights are initialised from `seed`: He-normal convs (fan-in), PyTorch's uniform Linear init,
 * BN scale 1 and bias 0.
 */
import type { ClampRange, Shape } from '../graph/ir.js';
import { inferShape } from '../graph/shapes.js';
import { ArqError } from '../util/errors.js';
import type { BatchNormNode, TrainGraph, TrainNode } from './graph.js';
import { Random } from '../util/random.js';

export const ARCHITECTURES = ['mnist-cnn', 'ibp-small', 'ibp-medium', 'resnet20', 'resnet32', 'resnet56', 'resnet110', 'mobilenetv2'] as const;
export type ArchitectureName = (typeof ARCHITECTURES)[number];

export interface ArchitectureOptions {
  /** Per-image input [C, H, W]. */
  readonly input: Shape;
  readonly classes: number;
  readonly seed: number;
  /** MobileNetV2 width multiplier (default 1). */
  readonly width?: number;
  /** Input normalisation (x - mean) / std inside the network; default: MNIST's for 1 channel, CIFAR-10's for 3, none otherwise. */
  readonly normalize?: { readonly mean: readonly number[]; readonly std: readonly number[] } | null;
}

const RELU: ClampRange = { min: 0, max: Infinity };
const RELU6: ClampRange = { min: 0, max: 6 };

function defaultNormalization(channels: number): ArchitectureOptions['normalize'] {
  if (channels === 1) return { mean: [0.1307], std: [0.3081] };
  if (channels === 3) return { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616] };
  return null;
}

/** Appends nodes with inferred shapes and seeded initial weights; names follow PyTorch's exporter (`/conv1/Conv`). */
export class GraphBuilder {
  private readonly nodes: TrainNode[] = [];
  private readonly shapes = new Map<string, Shape>();
  private readonly random: Random;

  constructor(private readonly input: Shape, seed: number) {
    this.shapes.set('input', input);
    this.random = Random.fromSeed(seed, 1);
  }

  shape(value: string): Shape {
    return this.shapes.get(value)!;
  }

  /** Appends a node built by the caller (operators without a helper here). */
  append(node: TrainNode): string {
    const inputs = node.inputs.map((value) => this.shape(value));
    this.shapes.set(node.output, node.op === 'batchnorm' ? inputs[0] : inferShape(node, inputs));
    this.nodes.push(node);
    return node.output;
  }

  private normal(count: number, std: number): Float32Array {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = this.random.normal() * std;
    return out;
  }

  private uniform(count: number, bound: number): Float32Array {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = (2 * this.random.uniform() - 1) * bound;
    return out;
  }

  /**
   * A convolution, padded to keep the size at stride 1 (`pad` = floor(kernel / 2)) unless `pad` is given (0: VALID);
   * with a zero bias when `bias` (the nets without batch norm).
   */
  conv(x: string, name: string, out: number, kernel: number, stride: number, group = 1, pad = Math.floor(kernel / 2), bias = false): string {
    const fanIn = (this.shape(x)[0] / group) * kernel * kernel;
    return this.append({
      op: 'conv', name: `${name}/Conv`, inputs: [x], output: `${name}/Conv_output_0`,
      weight: this.normal(out * fanIn, Math.sqrt(2 / fanIn)), bias: bias ? new Float32Array(out) : undefined, outChannels: out,
      kernel: [kernel, kernel], strides: [stride, stride], pads: [pad, pad, pad, pad], group,
    });
  }

  batchnorm(x: string, name: string): string {
    const channels = this.shape(x)[0];
    const node: BatchNormNode = {
      op: 'batchnorm', name: `${name}/BatchNormalization`, inputs: [x], output: `${name}/BatchNormalization_output_0`,
      scale: new Float32Array(channels).fill(1), bias: new Float32Array(channels), mean: new Float32Array(channels),
      var: new Float32Array(channels).fill(1), epsilon: 1e-5, momentum: 0.1,
    };
    return this.append(node);
  }

  clamp(x: string, name: string, range: ClampRange): string {
    const op = range.max === Infinity ? 'Relu' : 'Clip';
    return this.append({ op: 'clamp', name: `${name}/${op}`, inputs: [x], output: `${name}/${op}_output_0`, range });
  }

  add2(a: string, b: string, name: string): string {
    return this.append({ op: 'add', name: `${name}/Add`, inputs: [a, b], output: `${name}/Add_output_0` });
  }

  maxpool(x: string, name: string, kernel: number): string {
    return this.append({
      op: 'maxpool', name: `${name}/MaxPool`, inputs: [x], output: `${name}/MaxPool_output_0`,
      kernel: [kernel, kernel], strides: [kernel, kernel], pads: [0, 0, 0, 0], countIncludePad: false,
    });
  }

  globalAvgPool(x: string, name: string): string {
    return this.append({ op: 'globalavgpool', name: `${name}/GlobalAveragePool`, inputs: [x], output: `${name}/GlobalAveragePool_output_0` });
  }

  flatten(x: string, name: string): string {
    return this.append({ op: 'flatten', name: `${name}/Flatten`, inputs: [x], output: `${name}/Flatten_output_0` });
  }

  gemm(x: string, name: string, out: number): string {
    const features = this.shape(x)[0] * this.shape(x)[1] * this.shape(x)[2];
    const bound = 1 / Math.sqrt(features);
    return this.append({
      op: 'gemm', name: `${name}/Gemm`, inputs: [x], output: `${name}/Gemm_output_0`,
      weight: this.uniform(out * features, bound), bias: this.uniform(out, bound), outFeatures: out,
    });
  }

  /** (x - mean) / std, as two elementwise nodes (never folded into the first conv: see quantization.md). */
  normalize(x: string, normalization: NonNullable<ArchitectureOptions['normalize']>): string {
    const channels = this.shape(x)[0];
    const perChannel = (values: readonly number[], what: string): Float32Array => {
      if (values.length !== 1 && values.length !== channels) throw new ArqError(`normalisation ${what} needs 1 or ${channels} values, got ${values.length}`);
      return Float32Array.from(values);
    };
    const centred = this.append({ op: 'elementwise', name: '/Sub', inputs: [x], output: '/Sub_output_0', operation: 'sub', constant: perChannel(normalization.mean, 'mean'), constantFirst: false });
    return this.append({ op: 'elementwise', name: '/Div', inputs: [centred], output: '/Div_output_0', operation: 'div', constant: perChannel(normalization.std, 'std'), constantFirst: false });
  }

  convBnAct(x: string, name: string, out: number, kernel: number, stride: number, act: ClampRange | null, group = 1): string {
    const y = this.batchnorm(this.conv(x, `${name}/conv`, out, kernel, stride, group), `${name}/bn`);
    return act ? this.clamp(y, name, act) : y;
  }

  /** The graph whose output is `output`, the last node's value, renamed `logits` (the name the ONNX export keeps). */
  finish(output: string): TrainGraph {
    const last = this.nodes.length - 1;
    if (this.nodes[last]?.output !== output) throw new Error(`GraphBuilder.finish: '${output}' is not the last node's output`);
    this.nodes[last] = { ...this.nodes[last], output: 'logits' };
    this.shapes.set('logits', this.shape(output));
    this.shapes.delete(output);
    return { input: { name: 'input', shape: this.input, rank: 4 }, output: 'logits', nodes: this.nodes, shapes: this.shapes };
  }
}

function mnistCnn(b: GraphBuilder, x: string, classes: number): string {
  x = b.maxpool(b.clamp(b.batchnorm(b.conv(x, '/conv1', 16, 3, 1), '/bn1'), '/relu1', RELU), '/pool1', 2);
  x = b.maxpool(b.clamp(b.batchnorm(b.conv(x, '/conv2', 32, 3, 1), '/bn2'), '/relu2', RELU), '/pool2', 2);
  x = b.clamp(b.batchnorm(b.conv(x, '/conv3', 32, 3, 1), '/bn3'), '/relu3', RELU);
  x = b.clamp(b.gemm(b.flatten(x, '/flatten'), '/fc1', 64), '/relu4', RELU);
  return b.gemm(x, '/fc2', classes);
}

/** conv(c1, 4x4, stride 2) -> conv(c2, 4x4, stride 2), both VALID with ReLU -> dense(hidden) -> ReLU -> dense(classes). */
function ibpCnn(b: GraphBuilder, x: string, classes: number, c1: number, c2: number, hidden: number): string {
  x = b.clamp(b.conv(x, '/conv1', c1, 4, 2, 1, 0, true), '/relu1', RELU);
  x = b.clamp(b.conv(x, '/conv2', c2, 4, 2, 1, 0, true), '/relu2', RELU);
  x = b.clamp(b.gemm(b.flatten(x, '/flatten'), '/fc1', hidden), '/relu3', RELU);
  return b.gemm(x, '/fc2', classes);
}

function resnet(b: GraphBuilder, x: string, classes: number, depth: number): string {
  const blocks = (depth - 2) / 6;
  x = b.convBnAct(x, '/stem', 16, 3, 1, RELU);
  [16, 32, 64].forEach((channels, stage) => {
    for (let i = 0; i < blocks; i++) {
      const name = `/layer${stage + 1}.${i}`;
      const stride = stage > 0 && i === 0 ? 2 : 1;
      const y = b.convBnAct(b.convBnAct(x, `${name}/1`, channels, 3, stride, RELU), `${name}/2`, channels, 3, 1, null);
      const shortcut = stride !== 1 || b.shape(x)[0] !== channels ? b.convBnAct(x, `${name}/shortcut`, channels, 1, stride, null) : x;
      x = b.clamp(b.add2(y, shortcut, name), `${name}/relu`, RELU);
    }
  });
  return b.gemm(b.flatten(b.globalAvgPool(x, '/pool'), '/flatten'), '/fc', classes);
}

/** Channels rounded to a multiple of 8, never below 90% of the request (the reference implementation's rule). */
function divisible(channels: number): number {
  const rounded = Math.max(8, Math.floor((channels + 4) / 8) * 8);
  return rounded < 0.9 * channels ? rounded + 8 : rounded;
}

function mobilenetV2(b: GraphBuilder, x: string, classes: number, width: number): string {
  // [expansion, channels, repeats, stride]; small inputs (CIFAR, MNIST) keep resolution in the stem and stage 2.
  const small = Math.min(b.shape(x)[1], b.shape(x)[2]) <= 64;
  const settings: [number, number, number, number][] = [
    [1, 16, 1, 1], [6, 24, 2, small ? 1 : 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1],
  ];
  x = b.convBnAct(x, '/stem', divisible(32 * width), 3, small ? 1 : 2, RELU6);
  let block = 0;
  for (const [expansion, channels, repeats, stride] of settings) {
    const out = divisible(channels * width);
    for (let i = 0; i < repeats; i++, block++) {
      const name = `/features.${block}`;
      const inChannels = b.shape(x)[0];
      const s = i === 0 ? stride : 1;
      let y = expansion === 1 ? x : b.convBnAct(x, `${name}/expand`, inChannels * expansion, 1, 1, RELU6);
      y = b.convBnAct(y, `${name}/depthwise`, b.shape(y)[0], 3, s, RELU6, b.shape(y)[0]);
      y = b.convBnAct(y, `${name}/project`, out, 1, 1, null);
      x = s === 1 && inChannels === out ? b.add2(x, y, name) : y;
    }
  }
  x = b.convBnAct(x, '/head', width > 1 ? divisible(1280 * width) : 1280, 1, 1, RELU6);
  return b.gemm(b.flatten(b.globalAvgPool(x, '/pool'), '/flatten'), '/classifier', classes);
}

/** A freshly initialised network of architecture `name`. */
export function buildArchitecture(name: ArchitectureName, options: ArchitectureOptions): TrainGraph {
  const [channels, height, width] = options.input;
  if (![channels, height, width].every((d) => Number.isInteger(d) && d >= 1)) throw new ArqError(`input shape must be positive integers, got [${options.input.join(', ')}]`);
  if (!Number.isInteger(options.classes) || options.classes < 2) throw new ArqError(`classes must be an integer >= 2, got ${options.classes}`);
  const minSide = name === 'mnist-cnn' ? 4 : name.startsWith('ibp-') ? 10 : 1; // two 2x2 max pools; two 4x4 stride-2 VALID convs
  if (height < minSide || width < minSide) throw new ArqError(`${name} needs inputs of at least ${minSide}x${minSide}, got ${height}x${width}`);
  const b = new GraphBuilder(options.input, options.seed);
  // IBP nets take [0, 1] images as they are: the box of a pixel stays the box of the first layer's input.
  const normalization = options.normalize === undefined ? (name.startsWith('ibp-') ? null : defaultNormalization(channels)) : options.normalize;
  const x = normalization ? b.normalize('input', normalization) : 'input';
  switch (name) {
    case 'mnist-cnn':
      return b.finish(mnistCnn(b, x, options.classes));
    case 'ibp-small':
      return b.finish(ibpCnn(b, x, options.classes, 16, 32, 100));
    case 'ibp-medium':
      return b.finish(ibpCnn(b, x, options.classes, 32, 64, 256));
    case 'resnet20':
    case 'resnet32':
    case 'resnet56':
    case 'resnet110':
      return b.finish(resnet(b, x, options.classes, Number(name.slice(6))));
    case 'mobilenetv2': {
      const multiplier = options.width ?? 1;
      if (!(multiplier > 0 && multiplier <= 4)) throw new ArqError(`width multiplier must be in (0, 4], got ${multiplier}`);
      return b.finish(mobilenetV2(b, x, options.classes, multiplier));
    }
  }
}
