/**
 * report.json text: JSON.stringify's 2-space layout, except that arrays of plain values (certified_radii, actions)
 * and short objects of plain values (a layer's bits, timings, reward parts) stay on one line, so a report with
 * thousands of radii and episodes remains readable and diffable. JSON.parse gives back the same value.
 */

const INDENT = '  ';
/** Objects of plain values up to this many characters go on one line. */
const INLINE_OBJECT = 120;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

type Plain = null | boolean | number | string;

const isPlain = (value: Json): value is Plain => value === null || typeof value !== 'object';

function format(value: Json, indent: string): string {
  if (isPlain(value)) return JSON.stringify(value);
  const inner = indent + INDENT;
  if (Array.isArray(value)) {
    if (value.every(isPlain)) return JSON.stringify(value);
    return `[\n${value.map((v) => inner + format(v, inner)).join(',\n')}\n${indent}]`;
  }
  const entries = Object.entries(value);
  if (entries.length === 0) return '{}';
  const compact = JSON.stringify(value);
  if (entries.every(([, v]) => isPlain(v)) && compact.length <= INLINE_OBJECT) return compact;
  return `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${format(v, inner)}`).join(',\n')}\n${indent}}`;
}

/** `value` as report.json text (newline-terminated); undefined fields are dropped and NaN becomes null, as in JSON. */
export function formatReportJson(value: unknown): string {
  // A stringify/parse round trip first applies JSON's own rules (toJSON, undefined, NaN, non-plain objects).
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError('formatReportJson: value has no JSON form');
  return `${format(JSON.parse(text) as Json, '')}\n`;
}
