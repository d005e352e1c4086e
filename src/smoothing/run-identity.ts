/**
 * What makes a results file resumable: who made its results (the run identity: model, engine, noise seed, policy,
 * calibration), assembled here once for the CLI, the search and library users alike, and FILE.settings.json, the
 * sidecar whose `compared` settings a resumed run must equal (certifyDataset here, verifyDataset in verify/).
 */
import { existsSync, readFileSync } from 'node:fs';
import type { EngineName } from '../engine/classifier.js';
import type { LoadedModel } from '../onnx/model.js';
import type { Policy } from '../quant/policy.js';
import { ArqError } from '../util/errors.js';
import { writeFileAtomic } from '../util/files.js';
import { settingsDifferences } from './irs-cache.js';
import { settingsPath, type JsonValue } from './results.js';

/** Settings supplied by the caller that shape the results: recorded, and compared when resuming. */
export interface RunIdentity {
  /** The noise seed the sampler was built with (number, or decimal string beyond 2^53). */
  seed: number | string;
  /** sha256 of the model file. */
  model: string;
  /** Engine name (e.g. 'ort', 'float', 'int'). */
  engine: string;
  /** Quantization policy identity (e.g. 'w8a8' or a policy's layers as JSON); null or absent for float engines. */
  policy?: string | null;
  /** Further settings that shape the results (compared on resume). */
  [key: string]: JsonValue | undefined;
}

/** What runIdentity reads: the model as the engine runs it, the engine and the sampler's settings. */
export interface RunIdentityOptions {
  /** The model (a QDQ file's `qdq.bias` says how the integer engine reads its biases). */
  readonly model: Pick<LoadedModel, 'sha256' | 'qdq'>;
  /** The engine the sampler runs. */
  readonly engine: EngineName;
  /** The noise seed of the sampler. */
  readonly seed: number;
  /** The integer engine's policy and calibration (none for the float engines and for a QDQ file's own grids). */
  readonly quantization?: { readonly policy: Pick<Policy, 'layers'>; readonly calibration: { readonly settings: { readonly [key: string]: string | number } } };
  /** A uniform policy's shorthand (`w8a8`), recorded (lower-cased) instead of the policy's layers. */
  readonly bits?: string;
}

/**
 * The identity of a run: the model's sha256, the engine, the seed, the policy (its shorthand, its layers as JSON, or
 * for a QDQ file in the integer engine `qdq:` and how its biases are read) and the calibration's settings.
 */
export function runIdentity(options: RunIdentityOptions): RunIdentity & { policy: string | null; calibration: { [key: string]: string | number } | null } {
  const { model, engine, quantization } = options;
  const qdq = model.qdq && engine === 'int' ? `qdq:${model.qdq.bias ?? 'file'}` : null;
  const policy = quantization ? (options.bits ? options.bits.toLowerCase() : JSON.stringify(quantization.policy.layers)) : qdq;
  return { seed: options.seed, model: model.sha256, engine, policy, calibration: quantization ? { ...quantization.calibration.settings } : null };
}

/** FILE.settings.json's `compared` settings, or null when the file is missing. */
function readSettingsFile(path: string): { compared: { [key: string]: JsonValue } } | null {
  if (!existsSync(path)) return null;
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as { compared?: unknown };
    if (typeof parsed.compared !== 'object' || parsed.compared === null) throw new Error('no compared settings');
    return parsed as { compared: { [key: string]: JsonValue } };
  } catch (error) {
    throw new ArqError(`cannot resume: ${path} is not a valid settings file (${(error as Error).message})`);
  }
}

/** The settings file of a results file being started or resumed (openSettingsFile). */
export interface SettingsFile {
  readonly path: string;
  /**
   * Before the first new line: when `finished` lines are kept from a resumed file, its settings must equal
   * `compared`; then writes `compared` and `settings` (everything recorded, compared or not).
   */
  record(compared: { [key: string]: JsonValue }, settings: { [key: string]: JsonValue }, finished: number): void;
}

/**
 * Opens the settings file of results file `out`: an existing `out` is an error unless resumed or overwritten; a
 * resumed one's settings are read now, before the results file is reopened.
 */
export function openSettingsFile(out: string, options: { resume?: boolean; overwrite?: boolean }): SettingsFile {
  const path = settingsPath(out);
  const exists = existsSync(out);
  if (exists && !options.resume && !options.overwrite) throw new ArqError(`${out} exists: resume it or overwrite it`);
  const previous = options.resume && exists ? readSettingsFile(path) : null;
  return {
    path,
    record(compared, settings, finished) {
      if (options.resume && finished > 0) {
        if (!previous) throw new ArqError(`cannot resume ${out}: its settings file ${path} is missing`);
        const keys = [...new Set([...Object.keys(previous.compared), ...Object.keys(compared)])];
        const diff = settingsDifferences(previous.compared, compared, keys);
        if (diff.length) throw new ArqError(`cannot resume ${out}: it was written with different settings: ${diff.join(', ')}`);
      }
      writeFileAtomic(path, `${JSON.stringify({ compared, settings }, null, 2)}\n`);
    },
  };
}
