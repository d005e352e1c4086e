/** The training graph lowered to the native trainer (native/train), and a typed wrapper over it. */
import { lowerOp } from '../graph/lower.js';
import { addon, withStack, type NativeBatchNet, type NativeTrainNet, type TrainBatch, type TrainNetOp, type TrainNetSpec } from '../native.js';
import { withTensors, type TrainGraph } from './graph.js';

/** Values are numbered in node order (0 = the input); every node, clamps included, is its own op. */
export function trainNetSpec(graph: TrainGraph, momenta?: readonly Float32Array[]): TrainNetSpec {
  const ids = new Map<string, number>([[graph.input.name, 0]]);
  const ops: TrainNetOp[] = graph.nodes.map((node, index) => {
    const inputs = node.inputs.map((name) => ids.get(name)!);
    ids.set(node.output, index + 1);
    if (node.op !== 'batchnorm') return lowerOp(node, inputs, index + 1);
    const { scale, bias, mean, var: variance, epsilon, momentum } = node;
    return { op: 'batchnorm', inputs, output: index + 1, name: node.name, scale, bias, mean, var: variance, epsilon, momentum };
  });
  return { input: [...graph.input.shape], values: graph.nodes.length + 1, output: ids.get(graph.output)!, ops, momenta: momenta ? [...momenta] : undefined };
}

export interface BatchStats {
  /** Mean softmax cross-entropy over the batch. */
  readonly loss: number;
  /** Images whose arg-max logit is the label. */
  readonly correct: number;
}

export interface SgdSettings {
  readonly lr: number;
  readonly momentum: number;
  readonly weightDecay: number;
}

/** A network held by a native net (the trainer, or QAT); one call at a time (each returns a Promise). */
export abstract class BatchNet<Native extends NativeBatchNet> {
  protected constructor(protected readonly native: Native) {}

  get classes(): number {
    return this.native.classes;
  }

  step(batch: TrainBatch, sgd: SgdSettings): Promise<BatchStats> {
    return withStack(() => this.native.step({ ...batch, ...sgd }));
  }

  gradients(batch: TrainBatch): Promise<BatchStats> {
    return withStack(() => this.native.gradients(batch));
  }

  /** Logits [batch x classes]: see the subclass for how they are computed. */
  predict(images: Float32Array, batch: number, threads: number): Promise<Float32Array> {
    return withStack(() => this.native.predict(images, batch, threads));
  }

  /** Gradients of the trainable tensors after gradients() or step(), in the order the subclass documents. */
  grads(): Float32Array[] {
    return this.native.grads();
  }
}

/**
 * A network held by the native trainer. predict() runs batch norm on its running statistics; grads() and momenta()
 * hold the trainable tensors in graph order (bn mean and var excluded).
 */
export class TrainNet extends BatchNet<NativeTrainNet> {
  private constructor(private readonly graph: TrainGraph, native: NativeTrainNet) {
    super(native);
  }

  /** Copies the graph's tensors (and momentum buffers, when resuming) into a native net. */
  static build(graph: TrainGraph, momenta?: readonly Float32Array[]): TrainNet {
    return new TrainNet(graph, new (addon().TrainNet)(trainNetSpec(graph, momenta)));
  }

  momenta(): Float32Array[] {
    return this.native.momenta();
  }

  /** The graph with the net's current tensors. */
  trained(): TrainGraph {
    return withTensors(this.graph, this.native.tensors());
  }
}
