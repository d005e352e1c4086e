/** Verification radii as users write them: a number in [0, 1] (image units) or a fraction such as 4/255. */
import { ArqError } from '../util/errors.js';

export interface Epsilon {
  /** As given ("4/255", "0.01"): the key of the summary's results and the name of the TSV column. */
  readonly text: string;
  readonly value: number;
}

/** One radius; `name` prefixes errors (the flag or option). */
export function parseEpsilon(given: number | string, name = 'eps'): Epsilon {
  const text = String(given).trim();
  const fraction = /^(\d+(?:\.\d+)?)\s*\/\s*(\d+(?:\.\d+)?)$/.exec(text);
  const value = fraction ? Number(fraction[1]) / Number(fraction[2]) : /^\d+(?:\.\d+)?(?:e-?\d+)?$/i.test(text) ? Number(text) : NaN;
  if (!(value >= 0 && value <= 1)) throw new ArqError(`${name}: expected a radius in [0, 1] such as 0.01 or 4/255, got ${JSON.stringify(String(given))}`);
  return { text: text.replace(/\s+/g, ''), value };
}

/** A list of distinct radii: an array, or one comma-separated string ("1/255,4/255"). */
export function parseEpsilons(given: string | readonly (number | string)[], name = 'eps'): Epsilon[] {
  const items = typeof given === 'string' ? given.split(',') : given;
  if (items.length === 0) throw new ArqError(`${name}: expected at least one radius`);
  const list = items.map((item) => parseEpsilon(item, name));
  const texts = new Set<string>();
  for (const eps of list) {
    if (texts.has(eps.text)) throw new ArqError(`${name}: ${eps.text} is given twice`);
    texts.add(eps.text);
  }
  return list;
}
