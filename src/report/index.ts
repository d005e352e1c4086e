/**
 * The search report: report.json (the SearchReport itself) and report.html (the same data drawn as one
 * self-contained page), both replaced atomically so a reader never sees a half-written file.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { SearchReport } from './types.js';
import { writeFileAtomic } from '../util/files.js';
import { renderReportHtml } from './html.js';
import { formatReportJson } from './json.js';

export { renderReportHtml } from './html.js';
export { formatReportJson } from './json.js';
export { paretoFront } from './pareto.js';

/** Writes DIR/report.json and DIR/report.html (creating DIR if needed); resolves to both paths. */
export async function writeReport(dir: string, report: SearchReport): Promise<{ json: string; html: string }> {
  await mkdir(dir, { recursive: true });
  const json = path.join(dir, 'report.json');
  const html = path.join(dir, 'report.html');
  writeFileAtomic(json, formatReportJson(report));
  writeFileAtomic(html, renderReportHtml(report));
  return { json, html };
}
