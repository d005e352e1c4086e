/** The final table of `arq search`: float vs ARQ vs baselines, from report.json's final entries. */
import { fineTuneText, microseconds } from '../report/format.js';
import { FINAL_KEYS, type SearchReport } from '../report/types.js';
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
      ...(report.time ? (entry.time ? [microseconds(entry.time.seconds_per_image), `${entry.time.time_vs_w8a8.toFixed(2)}x`] : ['-', '-']) : []),
    ]];
  });
  return table(rows, ['', 'BitOps', 'smoothed acc', ...RADII.map((r) => `r=${r}`), 'ACR', 'ACR/float', ...(report.time ? ['time/image', 'time/W8A8'] : [])]);
}

/** How the table's times were measured, in one line. */
export function timeLine(report: SearchReport): string {
  const time = report.time;
  if (!time) return 'time: not measured';
  return `time per image on this CPU: integer engine (float: arq's fp32 plan), ${time.isa}, batch ${time.batch}, ${time.threads} threads, median of ${time.repeats} rounds; ` +
    `W8A8 ${microseconds(time.w8a8.seconds_per_image)}; BitOps is a model of arithmetic, not time on this CPU: compare the BitOps and time columns`;
}

/** Which rules every budgeted entry of the table obeyed (like-for-like), in one line. */
export function rulesLine(report: SearchReport): string {
  const rules = report.rules;
  if (!rules) return 'rules: not recorded';
  const pin = rules.pin_ends ? `first and last layers at ${rules.max_bits} bits` : 'no layer pinned';
  const finetune = fineTuneText(report.settings);
  return `rules of every budgeted policy (all but float and W8A8): BitOps <= ${(100 * rules.budget).toFixed(4)}% of float, widths ${rules.min_bits}..${rules.max_bits}, ${pin}; uniform = the widest uniform choice for the other layers${finetune ? `; ${finetune}` : ''}`;
}

/** How often each search's end-of-episode repair had to act, in one line. */
export function repairLine(report: SearchReport): string {
  const parts = Object.entries(report.repair ?? {}).map(([name, s]) =>
    `${name} ${s.repaired}/${s.episodes} episodes${s.repaired ? ` (${s.lowered} bits lowered, -${s.mean_bitops_removed_percent.toFixed(4)} pt BitOps each)` : ''}`);
  return `budget repair had to act: ${parts.length ? parts.join(', ') : 'no episodes'}`;
}

/** Per search, the re-scoring that chose its winner and the measured signal-to-noise of its reward. */
export function rescoringLines(report: SearchReport): string[] {
  return Object.entries(report.rescoring ?? {}).map(([name, r]) => {
    const searchBest = r.candidates[0];
    const snr = r.snr === null ? 'no re-scoring noise measured' : `signal-to-noise ${r.snr.toFixed(2)}${r.snr < 1.5 ? ' (the reward barely tells these candidates apart)' : ''}`;
    return `${name}: top ${r.candidates.length} re-scored on fresh images and noise; winner episode ${r.winner_episode}` +
      `${searchBest && searchBest.episode !== r.winner_episode ? ` (search-time best: episode ${searchBest.episode})` : ''}; ${snr} = spread between candidates ${r.between.toExponential(2)} / re-scoring noise ${r.within.toExponential(2)}`;
  });
}
