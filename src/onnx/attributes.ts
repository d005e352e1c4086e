/** Typed access to a node's attributes; errors name the node. */
import { ArqError } from '../util/errors.js';
import { AttributeType, toNumber, type NodeProto, type TensorProto } from './proto.js';

export class Attributes {
  private readonly byName = new Map<string, NonNullable<NodeProto['attribute']>[number]>();

  constructor(node: NodeProto, private readonly label: string) {
    for (const attribute of node.attribute ?? []) this.byName.set(attribute.name ?? '', attribute);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  int(name: string, fallback?: number): number {
    const attribute = this.byName.get(name);
    if (!attribute) return this.missing(name, fallback);
    if (attribute.type !== AttributeType.INT) this.wrongType(name, 'an int');
    return toNumber(attribute.i);
  }

  float(name: string, fallback?: number): number {
    const attribute = this.byName.get(name);
    if (!attribute) return this.missing(name, fallback);
    if (attribute.type !== AttributeType.FLOAT) this.wrongType(name, 'a float');
    return attribute.f ?? 0;
  }

  ints(name: string, fallback?: number[]): number[] {
    const attribute = this.byName.get(name);
    if (!attribute) return this.missing(name, fallback);
    if (attribute.type !== AttributeType.INTS) this.wrongType(name, 'a list of ints');
    return (attribute.ints ?? []).map(toNumber);
  }

  floats(name: string, fallback?: number[]): number[] {
    const attribute = this.byName.get(name);
    if (!attribute) return this.missing(name, fallback);
    if (attribute.type !== AttributeType.FLOATS) this.wrongType(name, 'a list of floats');
    return [...(attribute.floats ?? [])];
  }

  string(name: string, fallback?: string): string {
    const attribute = this.byName.get(name);
    if (!attribute) return this.missing(name, fallback);
    if (attribute.type !== AttributeType.STRING) this.wrongType(name, 'a string');
    return Buffer.from(attribute.s ?? new Uint8Array()).toString('utf8');
  }

  tensor(name: string): TensorProto {
    const attribute = this.byName.get(name);
    if (!attribute?.t) throw new ArqError(`${this.label}: attribute '${name}' must be a tensor`);
    return attribute.t;
  }

  private missing<T>(name: string, fallback: T | undefined): T {
    if (fallback === undefined) throw new ArqError(`${this.label}: missing attribute '${name}'`);
    return fallback;
  }

  private wrongType(name: string, expected: string): never {
    throw new ArqError(`${this.label}: attribute '${name}' must be ${expected}`);
  }
}
