/**
 * Quantization policies (quantization.md): per quantizable layer, `wbits` for its weights and `abits` for its input
 * activation, each in 2..8. Files use the `arq-policy/1` JSON format; `--bits w8a8` style shorthands mean a
 * uniform policy.
 */
import { readFile } from 'node:fs/promises';
import { isQuantizable, type Graph } from '../graph/ir.js';
import type { BitWidths, LayerBits } from '../engine/int-plan.js';
import { ArqError } from '../util/errors.js';
import { writeFileAtomic } from '../util/files.js';

export const MIN_BITS = 2;
export const MAX_BITS = 8;
export const POLICY_FORMAT = 'arq-policy/1';

export interface Policy extends BitWidths {
  readonly format: typeof POLICY_FORMAT;
  /** sha256 of the ONNX file the policy was made for. */
  readonly model: string;
}

/** Parses `w8a8`, `W4A8`, ... into bit widths. */
export function parseBits(text: string): { wbits: number; abits: number } {
  const match = /^w([2-8])a([2-8])$/i.exec(text.trim());
  if (!match) throw new ArqError(`--bits: expected a shorthand like w8a8 or w4a4 with widths in ${MIN_BITS}..${MAX_BITS}, got ${JSON.stringify(text)}`);
  return { wbits: Number(match[1]), abits: Number(match[2]) };
}

export function layerNames(graph: Graph): string[] {
  return graph.nodes.filter(isQuantizable).map((node) => node.name);
}

/** The policy with these bit widths for the model whose file has this sha256 (not checked: see validatePolicy). */
export function makePolicy(modelSha256: string, layers: readonly LayerBits[]): Policy {
  return { format: POLICY_FORMAT, model: modelSha256, layers };
}

/**
 * A policy's identity: its per-layer widths in order. A plan built from one graph and calibration is a function of
 * the policy alone (the search's fine-tune included: it is seeded), so equal keys mean equal plans, equal results on
 * the same images and noise, and equal speed.
 */
export function policyKey(layers: readonly LayerBits[]): string {
  return JSON.stringify(layers.map((l) => [l.name, l.wbits, l.abits]));
}

export function uniformPolicy(graph: Graph, modelSha256: string, wbits: number, abits: number): Policy {
  return makePolicy(modelSha256, layerNames(graph).map((name) => ({ name, wbits, abits })));
}

/**
 * Checks a policy against a graph: every quantizable layer exactly once, no unknown layer, widths in 2..8. A policy
 * made for another file (different sha256) is rejected unless `allowOtherModel` (layer names still must match).
 */
export function validatePolicy(value: unknown, graph: Graph, modelSha256: string, options: { source?: string; allowOtherModel?: boolean } = {}): Policy {
  const where = options.source ?? 'policy';
  if (typeof value !== 'object' || value === null) throw new ArqError(`${where}: expected a JSON object`);
  const policy = value as Record<string, unknown>;
  if (policy.format !== POLICY_FORMAT) throw new ArqError(`${where}: format must be "${POLICY_FORMAT}", got ${JSON.stringify(policy.format)}`);
  if (typeof policy.model !== 'string') throw new ArqError(`${where}: model must be the sha256 of the ONNX file`);
  if (policy.model !== modelSha256 && !options.allowOtherModel) {
    throw new ArqError(`${where}: made for model ${policy.model.slice(0, 12)}..., but this model is ${modelSha256.slice(0, 12)}...`);
  }
  if (!Array.isArray(policy.layers)) throw new ArqError(`${where}: layers must be an array`);
  const expected = new Set(layerNames(graph));
  const seen = new Set<string>();
  const layers: LayerBits[] = policy.layers.map((entry: unknown, index: number) => {
    const layer = entry as Record<string, unknown>;
    const name = layer?.name;
    if (typeof name !== 'string') throw new ArqError(`${where}: layers[${index}] has no name`);
    if (!expected.has(name)) throw new ArqError(`${where}: layer '${name}' is not a quantizable layer of this model`);
    if (seen.has(name)) throw new ArqError(`${where}: layer '${name}' appears twice`);
    seen.add(name);
    for (const key of ['wbits', 'abits'] as const) {
      const bits = layer[key];
      if (typeof bits !== 'number' || !Number.isInteger(bits) || bits < MIN_BITS || bits > MAX_BITS) {
        throw new ArqError(`${where}: layer '${name}': ${key} must be an integer in ${MIN_BITS}..${MAX_BITS}, got ${JSON.stringify(bits)}`);
      }
    }
    return { name, wbits: layer.wbits as number, abits: layer.abits as number };
  });
  const missing = [...expected].filter((name) => !seen.has(name));
  if (missing.length > 0) throw new ArqError(`${where}: layer '${missing[0]}' has no bit widths${missing.length > 1 ? ` (and ${missing.length - 1} more)` : ''}`);
  return makePolicy(policy.model, layers);
}

export async function loadPolicy(path: string, graph: Graph, modelSha256: string): Promise<Policy> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ArqError(`cannot read policy ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ArqError(`${path}: not valid JSON (${(error as Error).message})`);
  }
  return validatePolicy(value, graph, modelSha256, { source: path });
}

/** Writes a policy file through a temporary file and a rename, so no half-written policy is left. */
export async function savePolicy(path: string, policy: Policy): Promise<void> {
  writeFileAtomic(path, `${JSON.stringify(policy, null, 2)}\n`);
}

/** The policy from `--policy FILE` or `--bits wXaY` (exactly one). */
export async function resolvePolicy(options: { policy?: string; bits?: string }, graph: Graph, modelSha256: string): Promise<Policy> {
  if (options.policy && options.bits) throw new ArqError('give either --policy or --bits, not both');
  if (options.policy) return loadPolicy(options.policy, graph, modelSha256);
  if (options.bits) {
    const { wbits, abits } = parseBits(options.bits);
    return uniformPolicy(graph, modelSha256, wbits, abits);
  }
  throw new ArqError('a quantization policy is needed: give --policy FILE or --bits w8a8');
}
