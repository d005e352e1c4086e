/**
 * report.html: one self-contained page (inline CSS and SVG, no script, no external resource; a Content-Security-Policy
 * forbids both) that draws a SearchReport: header, final table, the four charts, timings and a reading guide.
 */
import { FINAL_KEYS, type FinalEntry, type SearchReport } from './types.js';
import { bitops, duration, fineTuneText, fixed, microseconds, MISSING, percent, uniformEquivalent } from './format.js';
import { acrChart, bitsChart, episodesBySearch, FINAL_COLOR, radiusChart, rewardChart, SEARCH_STYLE } from './plots.js';
import { escapeXml } from './svg.js';

const CSS = `
:root { color-scheme: light; }
body { margin: 0; background: #f6f7f9; color: #222; font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', Arial, sans-serif; }
main { max-width: 1000px; margin: 0 auto; padding: 24px 20px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 10px; padding-bottom: 4px; border-bottom: 1px solid #dde; }
.subtitle { color: #666; margin: 0 0 16px; }
.card { background: #fff; border: 1px solid #e2e4e8; border-radius: 6px; padding: 14px 16px; margin: 12px 0; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; margin: 0; }
dl.facts dt { color: #666; }
dl.facts dd { margin: 0; }
code { font: 12.5px ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, monospace; background: #f0f1f4; padding: 1px 4px; border-radius: 3px; }
details { margin-top: 10px; }
summary { cursor: pointer; color: #0b5394; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 5px 8px; border-bottom: 1px solid #eceef1; text-align: right; white-space: nowrap; }
th { font-weight: 600; color: #444; border-bottom: 2px solid #d5d8dd; vertical-align: bottom; }
th:first-child, td:first-child { text-align: left; }
tr.highlight td { background: #eef5fb; font-weight: 600; }
td.swatch::before { content: ''; display: inline-block; width: 10px; height: 10px; margin-right: 7px; border-radius: 2px; background: var(--c); }
table.settings td { text-align: left; white-space: normal; }
table.settings td:first-child { color: #555; width: 30%; }
figure.chart-card { margin: 12px 0; }
.chart-card svg { display: block; width: 100%; height: auto; }
.caption { color: #555; font-size: 13px; margin: 6px 0 0; }
ul.notes { padding-left: 20px; margin: 0; }
ul.notes li { margin: 4px 0; }
`;

const REWARD_TEXT: Record<SearchReport['reward'], string> = {
  arq: 'arq: λ·(ACR − ACR of float), ACR by IRS on the validation subset',
  'arq-acc': 'arq-acc: λ·(ΔACR + Δ smoothed accuracy) on the validation subset',
  haq: 'haq: λ·(clean accuracy − float clean accuracy), HAQ’s reward',
  'arq-soft': 'arq-soft: λ·(S − S of float), S the mean of (certified radius + soft margin) / 2 by IRS on the validation subset',
};

/** Radii the final table reports, when the entries' certified_accuracy has them. */
const TABLE_RADII = [0.25, 0.5, 0.75, 1];

const e = escapeXml;

function section(id: string, title: string, body: string): string {
  return `<section id="${id}"><h2>${e(title)}</h2>${body}</section>`;
}

function chart(svg: string, caption: string): string {
  return `<figure class="card chart-card">${svg}<figcaption class="caption">${caption}</figcaption></figure>`;
}

function table(head: readonly string[], rows: readonly string[][], cls = ''): string {
  const th = head.map((h) => `<th>${h}</th>`).join('');
  return `<table${cls ? ` class="${cls}"` : ''}><thead><tr>${th}</tr></thead><tbody>${rows.map((r) => r.join('')).join('')}</tbody></table>`;
}

function settingValue(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
}

function header(report: SearchReport): string {
  const budget = `${bitops(100 * report.budget)} of float BitOps (${uniformEquivalent(report.budget)})`;
  const totalMacs = report.layers.reduce((sum, l) => sum + l.macs, 0);
  const facts: [string, string][] = [
    ['model', `<code>${e(report.model.path)}</code> sha256 <code>${e(report.model.sha256.slice(0, 12))}</code>`],
    ['data', `<code>${e(report.data)}</code>`],
    ['sigma', e(String(report.sigma))],
    ['budget', e(budget)],
    ['reward', e(REWARD_TEXT[report.reward] ?? String(report.reward))],
    ['layers', e(`${report.layers.length} quantizable (Conv/Gemm), ${(totalMacs / 1e6).toPrecision(3)} M MACs`)],
    ['created', e(report.created)],
  ];
  const settings = Object.entries(report.settings).map(([k, v]) => [`<td>${e(k)}</td>`, `<td><code>${e(settingValue(v))}</code></td>`]);
  const details = settings.length ? `<details><summary>settings (${settings.length})</summary>${table(['setting', 'value'], settings, 'settings')}</details>` : '';
  const dl = facts.map(([k, v]) => `<dt>${e(k)}</dt><dd>${v}</dd>`).join('');
  return (
    `<header><h1>ARQ search report</h1><p class="subtitle">mixed-precision quantization guided by randomized-smoothing certification</p>` +
    `<div class="card"><dl class="facts">${dl}</dl>${details}</div></header>`
  );
}

/** The value of certified_accuracy at radius r, whatever decimal spelling its key uses ("1" or "1.0"). */
function certifiedAt(entry: FinalEntry, r: number): number | undefined {
  const key = Object.keys(entry.certified_accuracy).find((k) => Number(k) === r);
  return key === undefined ? undefined : entry.certified_accuracy[key];
}

function finalTable(report: SearchReport): string {
  const entries = FINAL_KEYS.flatMap((key) => (report[key] ? [{ key, entry: report[key] }] : []));
  if (!entries.length) return `<p class="card">No final certification yet: the table and the certified-accuracy curves appear when the search has certified its winners.</p>`;
  const radii = TABLE_RADII.filter((r) => entries.some(({ entry }) => certifiedAt(entry, r) !== undefined));
  const floatAcr = report.float?.acr;
  const timed = report.time !== undefined;
  const head = ['policy', 'BitOps', 'smoothed acc.', ...radii.map((r) => `cert. acc.<br>r = ${r}`), 'ACR', 'ACR vs float', 'abstain', ...(timed ? ['time / image', 'time vs W8A8'] : [])];
  const rows = entries.map(({ key, entry }) => {
    const relative = floatAcr !== undefined && floatAcr > 0 ? percent(entry.acr / floatAcr) : MISSING;
    const cells = [
      `<td class="swatch" style="--c:${FINAL_COLOR[key]}">${e(entry.label)}</td>`,
      `<td>${bitops(entry.bitops_percent)}</td>`,
      `<td>${percent(entry.clean_accuracy)}</td>`,
      ...radii.map((r) => `<td>${percent(certifiedAt(entry, r))}</td>`),
      `<td>${fixed(entry.acr, 3)}</td>`,
      `<td>${relative}</td>`,
      `<td>${percent(entry.abstain_rate)}</td>`,
      ...(timed ? timeCells(entry) : []),
    ];
    return [`<tr${key === 'arq' ? ' class="highlight"' : ''} data-entry="${key}">`, ...cells, '</tr>'];
  });
  const images = Math.max(...entries.map(({ entry }) => entry.certified_radii.length));
  return (
    `<div class="card">${table(head, rows)}` +
    `<p class="caption">Full CERTIFY of each policy on ${images} test images. Smoothed accuracy counts abstentions as wrong; ` +
    `certified accuracy at r is the fraction certified correct with radius ≥ r; ACR is the mean certified radius, 0 for wrong or abstained images.</p>` +
    `${timeText(report)}${rulesText(report)}</div>`
  );
}

/** An entry's measured time per image and its ratio to W8A8's, each with the range of its rounds as a tooltip. */
function timeCells(entry: FinalEntry): string[] {
  const time = entry.time;
  if (!time) return [`<td>${MISSING}</td>`, `<td>${MISSING}</td>`];
  const [fast, slow] = time.seconds_per_image_range;
  const [low, high] = time.time_vs_w8a8_range;
  return [
    `<td title="rounds ${microseconds(fast)} – ${microseconds(slow)}">${microseconds(time.seconds_per_image)}</td>`,
    `<td title="rounds ${fixed(low, 2)} – ${fixed(high, 2)}">${fixed(time.time_vs_w8a8, 2)}×</td>`,
  ];
}

/** How the final table's times were measured, and that BitOps is not time. */
export function timeText(report: SearchReport): string {
  const time = report.time;
  if (!time) return '';
  return (
    `<p class="caption" data-time>Time per image measured on the search's CPU once after the certifications: integer engine (float: arq's fp32 plan), ` +
    `${e(time.isa)}, batch ${time.batch}, ${time.threads} thread${time.threads === 1 ? '' : 's'}, median of ${time.repeats} interleaved rounds on ${e(time.inputs)} ` +
    `(hover for the range of the rounds); W8A8 ${microseconds(time.w8a8.seconds_per_image)}. BitOps is a model of arithmetic, not time on this CPU: ` +
    `the BitOps and time columns side by side show what lower widths buy here.</p>`
  );
}

/** The rules every budgeted entry obeyed (ARQ, HAQ, random search, uniform, knapsack; W8A8 is a reference). */
export function rulesText(report: SearchReport): string {
  const rules = report.rules;
  if (!rules) return '';
  const pin = rules.pin_ends ? `first and last layers pinned at ${rules.max_bits} bits` : 'no layer pinned';
  const finetune = fineTuneText(report.settings);
  return (
    `<p class="caption" data-rules>Rules of every budgeted policy (ARQ, HAQ, random search, uniform, knapsack): BitOps ≤ ${e(bitops(100 * rules.budget))} of float, ` +
    `widths ${rules.min_bits}..${rules.max_bits}, ${e(pin)}; the uniform entry is the widest uniform choice for the other layers under these rules` +
    `${finetune ? `; ${e(finetune)}` : ''}.</p>`
  );
}

function searchSummary(report: SearchReport): string {
  const groups = episodesBySearch(report.episodes);
  if (!groups.length) return '';
  const rows = groups.map(([name, episodes]) => {
    const scored = episodes.filter((x) => Number.isFinite(x.reward));
    const best = scored.length ? scored.reduce((a, b) => (b.reward > a.reward ? b : a)) : undefined;
    const warmup = episodes.filter((x) => x.warmup).length;
    const local = episodes.filter((x) => x.local_search).length;
    const parts = [warmup ? `${warmup} warm-up` : '', local ? `${local} local search` : ''].filter(Boolean).join(', ');
    const seconds = episodes.reduce((sum, x) => sum + (Number.isFinite(x.timings.total) ? x.timings.total : 0), 0);
    return [
      `<tr data-search="${name}">`,
      `<td>${e(SEARCH_STYLE[name].label)}</td>`,
      `<td>${episodes.length}${parts ? ` (${parts})` : ''}</td>`,
      `<td>${fixed(best?.reward, 4)}</td>`,
      `<td>${best ? best.episode : MISSING}</td>`,
      `<td>${bitops(best?.bitops_percent)}</td>`,
      `<td>${fixed(best?.reward_parts.acr, 3)}</td>`,
      `<td>${repairText(report, name)}</td>`,
      `<td>${duration(seconds)}</td>`,
      '</tr>',
    ];
  });
  return `<div class="card">${table(['search', 'episodes', 'best reward', 'at episode', 'its BitOps', 'its val. ACR', 'repaired', 'time'], rows)}</div>`;
}

/** How often the end-of-episode repair had to act in one search, and how much BitOps it removed on average. */
function repairText(report: SearchReport, name: keyof NonNullable<SearchReport['repair']>): string {
  const summary = report.repair?.[name];
  if (!summary) return MISSING;
  const removed = summary.repaired ? `, −${fixed(summary.mean_bitops_removed_percent, 4)} pt BitOps each` : '';
  return e(`${summary.repaired} of ${summary.episodes}${removed}`);
}

/** The layer-sensitivity table: per layer, KL to the float model with its weights (W) or activations (A) at each width. */
function sensitivityTable(report: SearchReport): string {
  const table_ = report.sensitivity;
  if (!table_) return '<p class="card">No sensitivity measured.</p>';
  const head = ['layer', 'MACs', ...table_.bits.map((b) => `W${b}`), ...table_.bits.map((b) => `A${b}`)];
  const cell = (value: number) => `<td>${value.toExponential(1)}</td>`;
  const rows = table_.layers.map((layer) => [
    '<tr>', `<td>${e(layer.name)}</td>`, `<td>${(layer.macs / 1e6).toPrecision(3)} M</td>`, ...layer.weights.map(cell), ...layer.activations.map(cell), '</tr>',
  ]);
  const base = table_.base.every((b) => b.wbits === b.abits && b.wbits === table_.bits.at(-1)) ? `W${table_.bits.at(-1)}A${table_.bits.at(-1)}` : 'the given policy';
  return (
    `<div class="card">${table(head, rows, 'sensitivity')}` +
    `<p class="caption">Mean KL divergence from the float model's softmax on ${table_.samples} noisy inputs (${table_.images} validation images, sigma ${table_.sigma}), ` +
    `one layer's weights (W) or input activation (A) at each width, every other layer as in ${e(base)} (its own KL ${table_.base_kl.toExponential(1)}). ` +
    `It orders the budget repair, defines the sensitivity knapsack and seeds the agents' warm-up.</p></div>`
  );
}

function timingsTable(report: SearchReport): string {
  const stages = Object.entries(report.timings).filter(([k]) => k !== 'total');
  const total = report.timings.total ?? stages.reduce((sum, [, s]) => sum + (Number.isFinite(s) ? s : 0), 0);
  if (!stages.length) return '<p class="card">No timings recorded.</p>';
  const row = (stage: string, seconds: number, cls = '') => [
    `<tr${cls}>`,
    `<td>${e(stage)}</td>`,
    `<td>${duration(seconds)}</td>`,
    `<td>${fixed(seconds, 1)}</td>`,
    `<td>${total > 0 ? percent(seconds / total) : MISSING}</td>`,
    '</tr>',
  ];
  const rows = [...stages.map(([k, s]) => row(k, s)), row('total', total, ' class="highlight"')];
  return `<div class="card">${table(['stage', 'time', 'seconds', 'share'], rows)}</div>`;
}

function notes(report: SearchReport): string {
  const items = [
    'BitOps count only the Conv and Gemm layers (MACs × weight bits × activation bits), as a percentage of the float model at 32×32 bits: uniform W8A8 is 6.25%, W4A4 1.5625%. Pools, additions and activations are not counted.',
    'The final table and the certified-accuracy curves come from a full CERTIFY of each policy on the test subset. Search-time figures (rewards, validation ACR) come from IRS on the validation subset with the same noise for every candidate: they rank policies, and are not comparable to the final numbers.',
    `ARQ and random search are scored by the ${e(report.reward)} reward; HAQ runs the same agent with HAQ’s clean-accuracy reward, so its rewards measure something else and it has no validation ACR.`,
    'Every policy is acted out within the budget (each width bounded by what the later layers can still afford; the end-of-episode repair is a safety net whose use the search table counts), so search episodes sit at or left of the budget line. Hover over points, bars and layer numbers for details.',
  ];
  return `<div class="card"><ul class="notes">${items.map((i) => `<li>${i}</li>`).join('')}</ul></div>`;
}

export function renderReportHtml(report: SearchReport): string {
  const title = `ARQ search report: ${report.model.path}`;
  const body = [
    header(report),
    section(
      'final',
      'Final results',
      finalTable(report) + chart(radiusChart(report), 'Exact curves from each entry’s per-image certified radii: the fraction of test images certified correct at radius ≥ r.'),
    ),
    section('bits', 'Bits per layer', chart(bitsChart(report), 'Weight and input-activation bit widths of each search’s policy; layer numbers follow the network’s order.')),
    section(
      'search',
      'Search',
      searchSummary(report) +
        chart(rewardChart(report), 'Each point is one episode; lines follow each search’s best reward so far.') +
        chart(
          acrChart(report),
          'Every episode that measured validation ACR. The black staircase is the Pareto front: the best ACR any episode reached at or below each BitOps; circled episodes are beaten by no other on both.',
        ),
    ),
    section('sensitivity', 'Layer sensitivity', sensitivityTable(report)),
    section('timings', 'Timings', timingsTable(report)),
    section('notes', 'How to read this', notes(report)),
  ];
  return (
    `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">` +
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">` +
    `<meta name="viewport" content="width=device-width, initial-scale=1"><title>${e(title)}</title><style>${CSS}</style></head>` +
    `<body><main>${body.join('\n')}</main></body></html>\n`
  );
}
