/** Number formatting shared by the report's tables and charts; a missing or non-finite value prints as a dash. */
import { uniformBitopsFraction } from '../graph/cost.js';

export const MISSING = '—';

const ok = (value: number | null | undefined): value is number => typeof value === 'number' && Number.isFinite(value);

/** A fraction as a percentage: 0.8234 -> "82.3%". */
export function percent(fraction: number | null | undefined, decimals = 1): string {
  return ok(fraction) ? `${(100 * fraction).toFixed(decimals)}%` : MISSING;
}

/** A BitOps percentage with three significant digits: 1.5625 -> "1.56%", 100 -> "100%", 0.390625 -> "0.391%". */
export function bitops(percentValue: number | null | undefined): string {
  return ok(percentValue) ? `${Number(percentValue.toPrecision(3))}%` : MISSING;
}

export function fixed(value: number | null | undefined, decimals = 3): string {
  return ok(value) ? value.toFixed(decimals) : MISSING;
}

/** Seconds (per image) in microseconds to three significant digits: 2.94e-5 -> "29.4 µs", 1.0937e-3 -> "1090 µs". */
export function microseconds(seconds: number | null | undefined): string {
  return ok(seconds) ? `${Number((1e6 * seconds).toPrecision(3))} µs` : MISSING;
}

/** Seconds as "8.2 s", "3 min 05 s" or "2 h 04 min". */
export function duration(seconds: number | null | undefined): string {
  if (!ok(seconds)) return MISSING;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
  const whole = Math.round(seconds);
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${String(whole % 60).padStart(2, '0')} s`;
  const minutes = Math.round(whole / 60);
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}

const BITS = [2, 3, 4, 5, 6, 7, 8];

interface Uniform {
  w: number;
  a: number;
  /** w * a: the uniform policy costs product x uniformBitopsFraction(1, 1) of float BitOps. */
  product: number;
}

/** Uniform WxAy policies ordered by BitOps, balanced widths first among equals (W4A4 before W8A2 and W2A8). */
const UNIFORM: Uniform[] = BITS.flatMap((w) => BITS.map((a) => ({ w, a, product: w * a }))).sort(
  (p, q) => p.product - q.product || Math.abs(p.w - p.a) - Math.abs(q.w - q.a) || q.w - p.w,
);

const named = (p: Uniform): string => `W${p.w}A${p.a}`;
const costed = (p: Uniform): string => `${named(p)} (${bitops(100 * uniformBitopsFraction(p.w, p.a))})`;

/**
 * Which uniform policy a BitOps budget (a fraction of float BitOps, MACs * 32 * 32) matches: uniform WxAy costs
 * w * a / 1024 of float. "uniform W4A4 (also W8A2, W2A8)" on an exact match, otherwise the uniform points around it.
 */
export function uniformEquivalent(budget: number): string {
  if (!ok(budget)) return MISSING;
  const product = budget / uniformBitopsFraction(1, 1);
  const exact = UNIFORM.filter((p) => Math.abs(p.product - product) < 1e-9);
  if (exact.length) return `uniform ${named(exact[0])}${exact.length > 1 ? ` (also ${exact.slice(1).map(named).join(', ')})` : ''}`;
  const below = UNIFORM.filter((p) => p.product < product);
  const nearestBelow = below.find((p) => p.product === below.at(-1)?.product);
  const above = UNIFORM.find((p) => p.product > product);
  if (nearestBelow && above) return `between uniform ${costed(nearestBelow)} and ${costed(above)}`;
  return nearestBelow ? `above uniform ${costed(nearestBelow)}` : `below uniform ${costed(UNIFORM[0])}`;
}

/**
 * How a search's quantized final rows were fine-tuned, in words ('' when they were not), from its report settings
 * (`final_finetune_steps`, `finetune_steps`): the final table and report.html say it beside the rules.
 */
export function fineTuneText(settings: { readonly [key: string]: unknown }): string {
  const final = Number(settings.final_finetune_steps ?? 0);
  const each = Number(settings.finetune_steps ?? 0);
  if (final > 0) return `every quantized row fine-tuned for ${final} QAT steps from the model before its final certification (HAQ's protocol; float not)`;
  if (each > 0) return `every candidate, and so every quantized row, fine-tuned for ${each} QAT steps before its reward and certification`;
  return '';
}
