/**
 * The search report: report.json (the SearchReport itself) and report.html (the same data drawn as one
 * self-contained page), both replaced atomically so a reader never sees a half-written file.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { SearchReport } from '../search/types.js';
import { renderReportHtml } from './html.js';
import { formatReportJson } from './json.js';

export { renderReportHtml } from './html.js';
export { formatReportJson } from './json.js';
export { paretoFront } from './pareto.js';

/** Writes `text` to a temporary file beside `file`, then renames it over `file` (atomic within one filesystem). */
async function writeAtomic(file: string, text: string): Promise<void> {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(temp, text);
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** Writes DIR/report.json and DIR/report.html (creating DIR if needed); resolves to both paths. */
export async function writeReport(dir: string, report: SearchReport): Promise<{ json: string; html: string }> {
  await mkdir(dir, { recursive: true });
  const json = path.join(dir, 'report.json');
  const html = path.join(dir, 'report.html');
  await writeAtomic(json, formatReportJson(report));
  await writeAtomic(html, renderReportHtml(report));
  return { json, html };
}
