/**
 * Structural checks of an ONNX graph before anything is imported, as ONNX's checker and ONNX Runtime's graph
 * loader make them: a bounded node count, every value defined exactly once (graph inputs, initializers and node
 * outputs share one namespace), every node input defined before the node that reads it, and the graph outputs
 * defined. Per-operator checks (shapes, attributes, values) happen where each operator is imported.
 */
import { ArqError } from '../util/errors.js';
import type { ModelProto, NodeProto } from './proto.js';

/**
 * The most nodes arq imports. Networks arq quantizes have hundreds (MobileNetV2 as exported: 177); the limit keeps
 * a small hostile file of a long chain of nodes from costing memory per node in every later stage.
 */
export const MAX_NODES = 10_000;

/** How errors name a node: its name (or `<op>_<index>` when the file has none) and its operator. */
export function describeNode(node: NodeProto, index: number): string {
  return `node '${node.name || `${node.opType}_${index}`}' (${node.opType})`;
}

export function validateGraph(graph: NonNullable<ModelProto['graph']>, source: string): void {
  const nodes = graph.node ?? [];
  if (nodes.length > MAX_NODES) throw new ArqError(`${source}: the graph has ${nodes.length} nodes, more than arq's limit of ${MAX_NODES}`);

  // What defines each value: an initializer, a graph input or a node.
  const definedBy = new Map<string, string>();
  for (const initializer of graph.initializer ?? []) {
    const name = initializer.name ?? '';
    if (!name) throw new ArqError(`${source}: an initializer has no name`);
    if (definedBy.has(name)) throw new ArqError(`${source}: initializer '${name}' is defined twice`);
    definedBy.set(name, 'an initializer');
  }
  const inputs = new Set<string>();
  for (const input of graph.input ?? []) {
    const name = input.name ?? '';
    if (inputs.has(name)) throw new ArqError(`${source}: graph input '${name}' is listed twice`);
    inputs.add(name);
    // A graph input may share its name with an initializer (the initializer is its default value, IR < 4).
    if (!definedBy.has(name)) definedBy.set(name, 'a graph input');
  }

  // Values produced by nodes not yet reached, so that a forward reference is told apart from a dangling one.
  const producedLater = new Map<string, string>();
  nodes.forEach((node, index) => {
    for (const output of node.output ?? []) if (output && !producedLater.has(output)) producedLater.set(output, describeNode(node, index));
  });

  nodes.forEach((node, index) => {
    const label = `${source}: ${describeNode(node, index)}`;
    for (const input of node.input ?? []) {
      if (!input || definedBy.has(input)) continue;
      const later = producedLater.get(input);
      if (later) throw new ArqError(`${label}: input '${input}' is produced by a later node (${later}); the graph is not topologically sorted`);
      throw new ArqError(`${label}: input '${input}' is not a graph input, an initializer or the output of any node`);
    }
    for (const output of node.output ?? []) {
      if (!output) continue;
      const previous = definedBy.get(output);
      if (previous) throw new ArqError(`${label}: output '${output}' is already defined by ${previous}`);
      definedBy.set(output, describeNode(node, index));
    }
  });

  const outputs = new Set<string>();
  for (const output of graph.output ?? []) {
    const name = output.name ?? '';
    if (outputs.has(name)) throw new ArqError(`${source}: graph output '${name}' is listed twice`);
    outputs.add(name);
    if (!definedBy.has(name)) throw new ArqError(`${source}: graph output '${name}' is not produced by any node`);
  }
}
