/**
 * Mutations of real ONNX models for the fuzz suite: structural ones through the project's own protobuf types
 * (src/onnx/proto.ts) — dims, raw data lengths, data types, attributes, values (NaN, infinities, denormals, huge),
 * graph edges, node order, opsets — and byte-level ones (truncation, flipped and inserted bytes). Every choice is
 * drawn from the Random it is given, so a case is a pure function of (seed, case number, base model).
 */
import { onnx, type ModelProto, type NodeProto, type TensorProto } from '../../src/onnx/proto.js';
import type { Random } from '../../src/util/random.js';

/** Integers that break naive size and index arithmetic. */
const HOSTILE_INTS = [0, -1, -2, 1, 2, 3, 7, 255, 65535, 2 ** 31 - 1, -(2 ** 31), 2 ** 32, 2 ** 40, 2 ** 53 - 1];
/** Float32 values that break naive arithmetic: NaN, infinities, a denormal, the largest finite float, negative zero. */
const HOSTILE_FLOATS = [NaN, Infinity, -Infinity, 1e-40, -1e-40, 3.4e38, -3.4e38, -0, 1e20];
/** ONNX data types, valid and not. */
const DATA_TYPES = [0, 1, 2, 3, 5, 6, 7, 9, 10, 11, 16, 99];

export function pick<T>(random: Random, items: readonly T[]): T {
  return items[random.integer(items.length)];
}

function graphOf(model: ModelProto) {
  return model.graph!;
}

function initializers(model: ModelProto): TensorProto[] {
  return graphOf(model).initializer ?? [];
}

function nodes(model: ModelProto): NodeProto[] {
  return graphOf(model).node ?? [];
}

/** The float32 values of an initializer held as raw data, or undefined. */
function floatValues(tensor: TensorProto): Float32Array | undefined {
  if (tensor.dataType !== onnx.TensorProto.DataType.FLOAT || !tensor.rawData || tensor.rawData.length % 4 !== 0) return undefined;
  const copy = new Uint8Array(tensor.rawData);
  return new Float32Array(copy.buffer, 0, copy.length / 4);
}

/** Every value name a node may read: graph inputs, initializers and node outputs. */
function valueNames(model: ModelProto): string[] {
  const names = new Set<string>();
  for (const input of graphOf(model).input ?? []) names.add(input.name ?? '');
  for (const tensor of initializers(model)) names.add(tensor.name ?? '');
  for (const node of nodes(model)) for (const output of node.output ?? []) names.add(output);
  return [...names];
}

type StructuralMutation = (model: ModelProto, random: Random) => string;

const STRUCTURAL: Record<string, StructuralMutation> = {
  'initializer dims': (model, random) => {
    const tensor = pick(random, initializers(model));
    if (!tensor?.dims?.length) return 'no initializer';
    const axis = random.integer(tensor.dims.length);
    const value = random.uniform() < 0.3 ? Number(tensor.dims[axis]) * 2 : pick(random, HOSTILE_INTS);
    tensor.dims[axis] = value;
    return `${tensor.name} dims[${axis}] = ${value}`;
  },
  'initializer rank': (model, random) => {
    const tensor = pick(random, initializers(model));
    if (!tensor) return 'no initializer';
    if (random.uniform() < 0.5) tensor.dims = (tensor.dims ?? []).slice(0, -1);
    else tensor.dims = [...(tensor.dims ?? []), pick(random, [1, 2, 0])];
    return `${tensor.name} dims = [${tensor.dims.join(', ')}]`;
  },
  'raw data length': (model, random) => {
    const tensor = pick(random, initializers(model));
    if (!tensor?.rawData) return 'no raw data';
    const length = pick(random, [0, 1, 3, tensor.rawData.length - 1, tensor.rawData.length - 4, tensor.rawData.length + 4, random.integer(tensor.rawData.length)]);
    const data = new Uint8Array(Math.max(0, length));
    data.set(tensor.rawData.subarray(0, data.length));
    tensor.rawData = data;
    return `${tensor.name} raw data ${data.length} bytes`;
  },
  'data type': (model, random) => {
    const tensor = pick(random, initializers(model));
    if (!tensor) return 'no initializer';
    tensor.dataType = pick(random, DATA_TYPES);
    return `${tensor.name} data type ${tensor.dataType}`;
  },
  'float data instead of raw data': (model, random) => {
    const tensor = pick(random, initializers(model));
    const values = tensor && floatValues(tensor);
    if (!tensor || !values) return 'no float initializer';
    const keep = random.uniform() < 0.5 ? values.length : random.integer(values.length + 1);
    tensor.floatData = Array.from(values.subarray(0, keep));
    tensor.rawData = new Uint8Array(0);
    return `${tensor.name} float data ${keep} of ${values.length}`;
  },
  values: (model, random) => {
    const tensor = pick(random, initializers(model));
    const values = tensor && floatValues(tensor);
    if (!tensor || !values || values.length === 0) return 'no float initializer';
    const value = pick(random, HOSTILE_FLOATS);
    const all = random.uniform() < 0.3;
    if (all) values.fill(value);
    else for (let k = 0; k < 1 + random.integer(4); k++) values[random.integer(values.length)] = value;
    tensor.rawData = new Uint8Array(values.buffer);
    return `${tensor.name} ${all ? 'all values' : 'some values'} = ${value}`;
  },
  'input dims': (model, random) => {
    const dims = graphOf(model).input?.[0]?.type?.tensorType?.shape?.dim;
    if (!dims?.length) return 'no input dims';
    const axis = random.integer(dims.length);
    const value = pick(random, HOSTILE_INTS);
    dims[axis] = onnx.TensorShapeProto.Dimension.create({ dimValue: value });
    return `input dims[${axis}] = ${value}`;
  },
  'input rank': (model, random) => {
    const shape = graphOf(model).input?.[0]?.type?.tensorType?.shape;
    if (!shape?.dim) return 'no input shape';
    shape.dim = random.uniform() < 0.5 ? shape.dim.slice(0, -1) : [...shape.dim, onnx.TensorShapeProto.Dimension.create({ dimValue: 1 })];
    return `input rank ${shape.dim.length}`;
  },
  attribute: (model, random) => {
    const withAttributes = nodes(model).filter((node) => (node.attribute ?? []).length > 0);
    const node = pick(random, withAttributes);
    if (!node) return 'no attributes';
    const attribute = pick(random, node.attribute!);
    const choice = random.integer(5);
    if (choice === 0) {
      node.attribute = node.attribute!.filter((a) => a !== attribute);
      return `${node.name} drops ${attribute.name}`;
    }
    if (choice === 1) {
      attribute.type = pick(random, [1, 2, 3, 4, 6, 7, 8, 0, 42]) as typeof attribute.type;
      return `${node.name} ${attribute.name} type ${attribute.type}`;
    }
    if (choice === 2 && attribute.ints?.length) {
      const index = random.integer(attribute.ints.length);
      attribute.ints[index] = pick(random, HOSTILE_INTS);
      return `${node.name} ${attribute.name}[${index}] = ${attribute.ints[index]}`;
    }
    if (choice === 3) {
      attribute.ints = Array.from({ length: random.integer(6) }, () => pick(random, HOSTILE_INTS));
      return `${node.name} ${attribute.name} ints = [${attribute.ints.join(', ')}]`;
    }
    attribute.i = pick(random, HOSTILE_INTS);
    attribute.f = pick(random, HOSTILE_FLOATS);
    return `${node.name} ${attribute.name} i = ${attribute.i}, f = ${attribute.f}`;
  },
  'graph edge': (model, random) => {
    const list = nodes(model);
    const index = random.integer(list.length);
    const node = list[index];
    if (!node.input?.length) return 'no inputs';
    const slot = random.integer(node.input.length);
    const later = list.slice(index).flatMap((n) => n.output ?? []);
    const choice = random.integer(4);
    const target =
      choice === 0 ? pick(random, valueNames(model))
      : choice === 1 ? `missing_${random.integer(1000)}`
      : choice === 2 ? (pick(random, later) ?? '')
      : '';
    node.input[slot] = target;
    return `${node.name} input ${slot} = '${target}'`;
  },
  'extra input': (model, random) => {
    const node = pick(random, nodes(model));
    node.input = [...(node.input ?? []), pick(random, valueNames(model))];
    return `${node.name} gets input ${node.input.at(-1)}`;
  },
  'node order': (model, random) => {
    const list = nodes(model);
    const a = random.integer(list.length);
    const b = random.integer(list.length);
    [list[a], list[b]] = [list[b], list[a]];
    return `nodes ${a} and ${b} swapped`;
  },
  'node removed': (model, random) => {
    const list = nodes(model);
    const index = random.integer(list.length);
    list.splice(index, 1);
    return `node ${index} removed`;
  },
  'node duplicated': (model, random) => {
    const list = nodes(model);
    const index = random.integer(list.length);
    list.splice(index, 0, onnx.NodeProto.decode(onnx.NodeProto.encode(list[index]).finish()));
    return `node ${index} duplicated`;
  },
  'operator type': (model, random) => {
    const list = nodes(model);
    const node = pick(random, list);
    node.opType = random.uniform() < 0.8 ? pick(random, list).opType : 'NoSuchOp';
    return `${node.name} is now ${node.opType}`;
  },
  'graph output': (model, random) => {
    const output = graphOf(model).output?.[0];
    if (!output) return 'no output';
    output.name = pick(random, [...valueNames(model), 'missing_output', '']);
    return `graph output '${output.name}'`;
  },
  opset: (model, random) => {
    const entry = model.opsetImport?.[0];
    if (!entry) return 'no opset';
    entry.version = pick(random, [0, 1, 6, 23, 1000, -1]);
    return `opset ${entry.version}`;
  },
};

const STRUCTURAL_NAMES = Object.keys(STRUCTURAL);

function byteLevel(bytes: Uint8Array, random: Random): { bytes: Uint8Array; description: string } {
  const choice = random.integer(3);
  if (choice === 0) {
    const length = random.integer(bytes.length);
    return { bytes: bytes.slice(0, length), description: `truncated to ${length} bytes` };
  }
  const out = new Uint8Array(bytes);
  if (choice === 1) {
    const flips = 1 + random.integer(16);
    for (let k = 0; k < flips; k++) out[random.integer(out.length)] = random.integer(256);
    return { bytes: out, description: `${flips} random bytes` };
  }
  const at = random.integer(bytes.length);
  const inserted = Uint8Array.from({ length: 1 + random.integer(8) }, () => random.integer(256));
  const spliced = new Uint8Array(bytes.length + inserted.length);
  spliced.set(bytes.subarray(0, at));
  spliced.set(inserted, at);
  spliced.set(bytes.subarray(at), at + inserted.length);
  return { bytes: spliced, description: `${inserted.length} bytes inserted at ${at}` };
}

/** One mutant of `base` (ONNX bytes): one to three structural mutations, or one byte-level mutation. */
export function mutateModel(base: Uint8Array, random: Random): { bytes: Uint8Array; description: string } {
  if (random.uniform() < 0.2) return byteLevel(base, random);
  const model = onnx.ModelProto.decode(base);
  const steps: string[] = [];
  const count = 1 + random.integer(3);
  for (let k = 0; k < count; k++) {
    const name = pick(random, STRUCTURAL_NAMES);
    steps.push(`${name}: ${STRUCTURAL[name](model, random)}`);
  }
  return { bytes: onnx.ModelProto.encode(model).finish(), description: steps.join('; ') };
}
