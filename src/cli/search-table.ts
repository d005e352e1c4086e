/** The final table of `arq search`: float vs ARQ vs baselines, from report.json's final entries. */
import { FINAL_KEYS, type SearchReport } from '../search/types.js';
import { table } from './print.js';

const RADII = ['0.25', '0.5', '0.75', '1'];

export function finalTable(report: SearchReport): string {
  const float = report.float;
  const percent = (x: number) => `${(100 * x).toFixed(1)}%`;
  const rows = FINAL_KEYS.flatMap((key) => {
    const entry = report[key];
    if (!entry) return [];
    const relative = float && float.acr > 0 ? `${((100 * entry.acr) / float.acr).toFixed(1)}%` : '-';
    return [[
      entry.label, `${entry.bitops_percent.toFixed(3)}%`, percent(entry.clean_accuracy),
      ...RADII.map((r) => (entry.certified_accuracy[r] === undefined ? '-' : percent(entry.certified_accuracy[r]))),
      entry.acr.toFixed(4), relative,
    ]];
  });
  return table(rows, ['', 'BitOps', 'smoothed acc', ...RADII.map((r) => `r=${r}`), 'ACR', 'ACR/float']);
}
