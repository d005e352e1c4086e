/**
 * SVG chart primitives for report.html: an x-y chart (lines, step lines, points, reference lines, shaded bands) and
 * a grouped bar chart in stacked panels, sharing one frame (title, legend), one axis renderer and one tick rule.
 *
 * Hand-written rather than a charting library because report.html must be a single self-contained file that opens
 * offline with no script: d3, Vega, Chart.js and the like build their output in a browser DOM (or canvas) at view
 * time, and rendering them on the server would pull a DOM emulation into the package. Charts here are plain strings;
 * every piece of text goes through `escapeXml` and every coordinate through `px`, and non-finite data never reaches
 * either (points with a non-finite coordinate are dropped, empty or flat domains are widened).
 */

export const FONT_FAMILY = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', Arial, sans-serif";

const TEXT = '#222';
const MUTED = '#666';
const GRID = '#e4e4e4';
const AXIS = '#888';
/** Rough width of a 12 px sans-serif character, to lay out legends and thin crowded labels without a DOM. */
const CHAR_WIDTH = 6.6;

const MARGIN = { left: 66, right: 22, bottom: 46 };
const TITLE_HEIGHT = 30;
const LEGEND_ROW = 18;

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

// ---------------------------------------------------------------------------------------------------------- ticks

export interface TickScale {
  /** The axis range: `ticks[0]` to `ticks[ticks.length - 1]`. */
  lo: number;
  hi: number;
  step: number;
  ticks: number[];
  /** Decimals that print every tick exactly. */
  decimals: number;
}

/**
 * Round ticks for data in [min, max]: a step of 1, 2 or 5 times a power of ten giving at most about `count`
 * intervals, and an axis range widened outwards to whole steps. A flat or non-finite range is widened first, so the
 * result always has lo < hi.
 */
export function niceScale(min: number, max: number, count = 5): TickScale {
  if (!Number.isFinite(min) || !Number.isFinite(max)) [min, max] = [0, 1];
  if (min > max) [min, max] = [max, min];
  if (min === max) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    [min, max] = [min - pad, max + pad];
  }
  const raw = (max - min) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const fraction = raw / power;
  const step = (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * power;
  // The epsilons keep values that sit on a tick (up to float error) from adding a whole extra step.
  const first = Math.floor(min / step + 1e-9);
  const last = Math.ceil(max / step - 1e-9);
  const decimals = Math.max(0, Math.ceil(-Math.log10(step) - 1e-9));
  const ticks: number[] = [];
  for (let i = first; i <= last; i++) ticks.push(Number((i * step).toFixed(decimals)));
  return { lo: ticks[0], hi: ticks[ticks.length - 1], step, ticks, decimals };
}

export function tickLabel(value: number, decimals: number): string {
  const text = value.toFixed(decimals);
  return /^-0(\.0*)?$/.test(text) ? text.slice(1) : text;
}

// ----------------------------------------------------------------------------------------------- shared pieces

/** A pixel coordinate, rounded to 0.1 px to keep files small. */
function px(value: number): string {
  return String(Math.round(value * 10) / 10);
}

function linear(lo: number, hi: number, from: number, to: number): (value: number) => number {
  return (value) => from + ((value - lo) / (hi - lo)) * (to - from);
}

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

export type Swatch = 'line' | 'dash' | 'point' | 'hollow' | 'rect';

export interface LegendItem {
  label: string;
  color: string;
  swatch: Swatch;
}

export interface AxisSpec {
  label: string;
  /** Fixed range; default: the data's range (and the reference lines'), widened to round ticks. */
  domain?: readonly [number, number];
  /** About how many intervals (default 6 on x, 5 on y). */
  ticks?: number;
  /** Tick text; default: the tick value with the decimals its step needs. */
  format?: (value: number) => string;
}

function text(x: number, y: number, content: string, attrs = ''): string {
  return `<text x="${px(x)}" y="${px(y)}"${attrs ? ` ${attrs}` : ''}>${escapeXml(content)}</text>`;
}

function textWidth(content: string, size = 12): number {
  return (content.length * CHAR_WIDTH * size) / 12;
}

function swatch(item: LegendItem, x: number, y: number): string {
  const color = escapeXml(item.color);
  switch (item.swatch) {
    case 'line':
    case 'dash':
      return `<line x1="${px(x)}" y1="${px(y)}" x2="${px(x + 18)}" y2="${px(y)}" stroke="${color}" stroke-width="2.5"${item.swatch === 'dash' ? ' stroke-dasharray="5 3"' : ''}/>`;
    case 'point':
      return `<circle cx="${px(x + 9)}" cy="${px(y)}" r="3.5" fill="${color}"/>`;
    case 'hollow':
      return `<circle cx="${px(x + 9)}" cy="${px(y)}" r="3.5" fill="#fff" stroke="${color}" stroke-width="1.5"/>`;
    case 'rect':
      return `<rect x="${px(x + 2)}" y="${px(y - 6)}" width="14" height="12" fill="${color}"/>`;
  }
}

/** Legend items laid out left to right from (x, y), wrapping at `maxWidth`; returns the markup and rows used. */
function legend(items: readonly LegendItem[], x: number, y: number, maxWidth: number): { svg: string; rows: number } {
  let cx = x;
  let row = 0;
  const parts: string[] = [];
  for (const item of items) {
    const width = 24 + textWidth(item.label) + 18;
    if (cx > x && cx + width > x + maxWidth) {
      cx = x;
      row++;
    }
    const cy = y + row * LEGEND_ROW;
    parts.push(`<g class="legend-item">${swatch(item, cx, cy)}${text(cx + 24, cy + 4, item.label)}</g>`);
    cx += width;
  }
  return { svg: `<g class="legend">${parts.join('')}</g>`, rows: items.length ? row + 1 : 0 };
}

/** The chart's outer markup: root element, title and legend; `top` is where the plotting area may start. */
function frame(title: string, width: number, items: readonly LegendItem[]): { head: string; top: number } {
  const titleSvg = text(MARGIN.left, 20, title, `font-size="15" font-weight="600" fill="${TEXT}"`);
  const { svg, rows } = legend(items, MARGIN.left, TITLE_HEIGHT + 10, width - MARGIN.left - MARGIN.right);
  return { head: `<g class="title">${titleSvg}</g>${svg}`, top: TITLE_HEIGHT + rows * LEGEND_ROW + 14 };
}

function svgRoot(id: string, title: string, width: number, height: number, body: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="${escapeXml(id)}" viewBox="0 0 ${width} ${px(height)}" ` +
    `width="${width}" height="${px(height)}" role="img" aria-label="${escapeXml(title)}" font-family="${escapeXml(FONT_FAMILY)}" ` +
    `font-size="12" fill="${TEXT}"><title>${escapeXml(title)}</title>${body}</svg>`
  );
}

interface Tick {
  /** Pixel position along the axis. */
  at: number;
  label: string;
  /** Full text shown on hover where the label is abbreviated. */
  hint?: string;
}

/** Grid lines, axis lines, tick marks, tick labels and axis titles around a plotting area. */
function axes(box: Box, xTicks: readonly Tick[], yTicks: readonly Tick[], labels: { x?: string; y: string; xGrid: boolean }): string {
  const bottom = box.y + box.h;
  const parts: string[] = [];
  for (const tick of yTicks) {
    parts.push(`<line x1="${px(box.x)}" y1="${px(tick.at)}" x2="${px(box.x + box.w)}" y2="${px(tick.at)}" stroke="${GRID}"/>`);
    parts.push(text(box.x - 7, tick.at + 4, tick.label, `text-anchor="end" fill="${MUTED}"`));
  }
  // Thin out x labels that would collide (dense category axes), always keeping the first.
  const widest = Math.max(0, ...xTicks.map((t) => textWidth(t.label, 11)));
  const spacing = xTicks.length > 1 ? Math.abs(xTicks[1].at - xTicks[0].at) : Infinity;
  const every = Math.max(1, Math.ceil((widest + 6) / spacing));
  xTicks.forEach((tick, i) => {
    if (labels.xGrid) parts.push(`<line x1="${px(tick.at)}" y1="${px(box.y)}" x2="${px(tick.at)}" y2="${px(bottom)}" stroke="${GRID}"/>`);
    parts.push(`<line x1="${px(tick.at)}" y1="${px(bottom)}" x2="${px(tick.at)}" y2="${px(bottom + 4)}" stroke="${AXIS}"/>`);
    if (i % every !== 0) return;
    const hint = tick.hint ? `<title>${escapeXml(tick.hint)}</title>` : '';
    parts.push(`<text x="${px(tick.at)}" y="${px(bottom + 17)}" text-anchor="middle" font-size="11" fill="${MUTED}">${hint}${escapeXml(tick.label)}</text>`);
  });
  parts.push(`<path d="M${px(box.x)} ${px(box.y)}V${px(bottom)}H${px(box.x + box.w)}" fill="none" stroke="${AXIS}"/>`);
  if (labels.x) parts.push(text(box.x + box.w / 2, bottom + 37, labels.x, `text-anchor="middle" fill="${TEXT}"`));
  const cy = box.y + box.h / 2;
  parts.push(text(16, cy, labels.y, `text-anchor="middle" transform="rotate(-90 16 ${px(cy)})" fill="${TEXT}"`));
  return `<g class="axes">${parts.join('')}</g>`;
}

function message(box: Box, content: string): string {
  return text(box.x + box.w / 2, box.y + box.h / 2, content, `text-anchor="middle" font-size="14" fill="${MUTED}" class="empty"`);
}

/** A dashed reference line across the plotting area, horizontal at pixel y, labelled at its left end if labelled. */
function horizontalRef(box: Box, y: number, ref: { label?: string; color?: string }): string {
  const color = escapeXml(ref.color ?? '#444');
  const line = `<line x1="${px(box.x)}" y1="${px(y)}" x2="${px(box.x + box.w)}" y2="${px(y)}" stroke="${color}" stroke-width="1.5" stroke-dasharray="4 3"/>`;
  return `<g class="ref">${line}${ref.label ? text(box.x + 5, y - 5, ref.label, `font-size="11" fill="${color}"`) : ''}</g>`;
}

/** The same, vertical at pixel x, labelled at its top. */
function verticalRef(box: Box, x: number, ref: { label: string; color?: string }): string {
  const color = escapeXml(ref.color ?? '#444');
  const line = `<line x1="${px(x)}" y1="${px(box.y)}" x2="${px(x)}" y2="${px(box.y + box.h)}" stroke="${color}" stroke-width="1.5" stroke-dasharray="4 3"/>`;
  // Labels near the right edge go on the line's left so they are not clipped.
  const left = x > box.x + box.w * 0.75;
  const label = text(left ? x - 5 : x + 5, box.y + 14, ref.label, `font-size="11" fill="${color}"${left ? ' text-anchor="end"' : ''}`);
  return `<g class="ref">${line}${label}</g>`;
}

// --------------------------------------------------------------------------------------------------- x-y chart

export interface Point {
  x: number;
  y: number;
  /** Hover text. */
  title?: string;
}

export type Mark =
  /** A polyline; `step` draws it as a step function (horizontal to the next x, then vertical). */
  | { kind: 'line'; series: string; color: string; points: readonly Point[]; step?: boolean; dash?: boolean; width?: number }
  /** Markers; `hollow` draws rings, as for points that count less (warm-up episodes, front members). */
  | { kind: 'points'; series: string; color: string; points: readonly Point[]; hollow?: boolean; radius?: number; opacity?: number };

export interface RefLine {
  axis: 'x' | 'y';
  value: number;
  label: string;
  color?: string;
}

/** A shaded x range (e.g. warm-up episodes). */
export interface Band {
  from: number;
  to: number;
  label: string;
}

export interface XYChartSpec {
  /** Unique within the page (it names the clip path). */
  id: string;
  title: string;
  width: number;
  height: number;
  x: AxisSpec;
  y: AxisSpec;
  marks: readonly Mark[];
  refLines?: readonly RefLine[];
  bands?: readonly Band[];
  legend: readonly LegendItem[];
  /** Shown instead of marks when no mark has a finite point. */
  empty?: string;
}

const finitePoint = (p: Point): boolean => Number.isFinite(p.x) && Number.isFinite(p.y);

function axisScale(axis: AxisSpec, values: readonly number[], count: number): TickScale {
  const finite = values.filter(Number.isFinite);
  const lo = axis.domain?.[0] ?? (finite.length ? Math.min(...finite) : 0);
  const hi = axis.domain?.[1] ?? (finite.length ? Math.max(...finite) : 1);
  return niceScale(lo, hi, axis.ticks ?? count);
}

function numericTicks(scale: TickScale, axis: AxisSpec, toPixel: (v: number) => number): Tick[] {
  return scale.ticks.map((v) => ({ at: toPixel(v), label: axis.format ? axis.format(v) : tickLabel(v, scale.decimals) }));
}

function pathOf(points: readonly { x: number; y: number }[], step: boolean): string {
  return points
    .map((p, i) => {
      if (i === 0) return `M${px(p.x)} ${px(p.y)}`;
      return step ? `H${px(p.x)}V${px(p.y)}` : `L${px(p.x)} ${px(p.y)}`;
    })
    .join('');
}

function hover(point: Point): string {
  return point.title ? `<title>${escapeXml(point.title)}</title>` : '';
}

/** Lines, step lines and scatter points over numeric axes, with optional reference lines and shaded x bands. */
export function xyChart(spec: XYChartSpec): string {
  const marks = spec.marks.map((m) => ({ ...m, points: m.points.filter(finitePoint) }));
  const refs = (spec.refLines ?? []).filter((r) => Number.isFinite(r.value));
  const bands = (spec.bands ?? []).filter((b) => Number.isFinite(b.from) && Number.isFinite(b.to));
  const all = marks.flatMap((m) => m.points);
  const xScale = axisScale(spec.x, [...all.map((p) => p.x), ...refs.filter((r) => r.axis === 'x').map((r) => r.value), ...bands.flatMap((b) => [b.from, b.to])], 6);
  const yScale = axisScale(spec.y, [...all.map((p) => p.y), ...refs.filter((r) => r.axis === 'y').map((r) => r.value)], 5);

  const { head, top } = frame(spec.title, spec.width, spec.legend);
  const box: Box = { x: MARGIN.left, y: top, w: spec.width - MARGIN.left - MARGIN.right, h: spec.height - top - MARGIN.bottom };
  const sx = linear(xScale.lo, xScale.hi, box.x, box.x + box.w);
  const sy = linear(yScale.lo, yScale.hi, box.y + box.h, box.y);
  const clip = `${spec.id}-clip`;

  const body: string[] = [head];
  for (const band of bands) {
    const x0 = sx(Math.max(xScale.lo, Math.min(band.from, band.to)));
    const x1 = sx(Math.min(xScale.hi, Math.max(band.from, band.to)));
    body.push(`<g class="band"><rect x="${px(x0)}" y="${px(box.y)}" width="${px(Math.max(0, x1 - x0))}" height="${px(box.h)}" fill="#000" fill-opacity="0.06"/>`);
    body.push(`${text(x0 + 5, box.y + 14, band.label, `font-size="11" fill="${MUTED}"`)}</g>`);
  }
  body.push(axes(box, numericTicks(xScale, spec.x, sx), numericTicks(yScale, spec.y, sy), { x: spec.x.label, y: spec.y.label, xGrid: true }));
  body.push(`<clipPath id="${escapeXml(clip)}"><rect x="${px(box.x - 5)}" y="${px(box.y - 5)}" width="${px(box.w + 10)}" height="${px(box.h + 10)}"/></clipPath>`);

  const drawn: string[] = [];
  for (const mark of marks) {
    const color = escapeXml(mark.color);
    const series = `data-series="${escapeXml(mark.series)}"`;
    if (mark.kind === 'line') {
      if (mark.points.length < 2) continue;
      const d = pathOf(mark.points.map((p) => ({ x: sx(p.x), y: sy(p.y) })), mark.step ?? false);
      const dash = mark.dash ? ' stroke-dasharray="6 4"' : '';
      drawn.push(`<path class="line" ${series} d="${d}" fill="none" stroke="${color}" stroke-width="${mark.width ?? 2}" stroke-linejoin="round"${dash}/>`);
    } else {
      const r = mark.radius ?? 3;
      const fill = mark.hollow ? `fill="#fff" fill-opacity="0.6" stroke="${color}" stroke-width="1.4"` : `fill="${color}"`;
      const opacity = mark.opacity === undefined ? '' : ` opacity="${mark.opacity}"`;
      const circles = mark.points.map((p) => `<circle cx="${px(sx(p.x))}" cy="${px(sy(p.y))}" r="${r}">${hover(p)}</circle>`);
      drawn.push(`<g class="points" ${series} ${fill}${opacity}>${circles.join('')}</g>`);
    }
  }
  body.push(`<g clip-path="url(#${escapeXml(clip)})">${drawn.join('')}</g>`);

  for (const ref of refs) body.push(ref.axis === 'x' ? verticalRef(box, sx(ref.value), ref) : horizontalRef(box, sy(ref.value), ref));
  if (all.length === 0) body.push(message(box, spec.empty ?? 'no data'));
  return svgRoot(spec.id, spec.title, spec.width, spec.height, body.join(''));
}

// ------------------------------------------------------------------------------------------------- bar chart

export interface BarSeries {
  name: string;
  color: string;
  /** One value per category; null leaves a gap. */
  values: readonly (number | null)[];
}

export interface BarPanel {
  title: string;
  series: readonly BarSeries[];
}

export interface BarChartSpec {
  id: string;
  title: string;
  width: number;
  /** Height of each panel's plotting area. */
  panelHeight: number;
  /** Short category labels for the x axis; `categoryHints` gives the full text shown on hover. */
  categories: readonly string[];
  categoryHints?: readonly string[];
  xLabel: string;
  y: AxisSpec;
  /** Panels stacked top to bottom, sharing categories, y range and legend. */
  panels: readonly BarPanel[];
  legend: readonly LegendItem[];
  /** Horizontal reference lines drawn in every panel, unlabelled (name them in the legend). */
  refLines?: readonly { value: number; color?: string }[];
  /** Print each value above its bar when the bar is wide enough. */
  valueLabels?: boolean;
  empty?: string;
}

const PANEL_TITLE = 20;

/** White or near-black, whichever reads better on a #rrggbb background (by relative luminance). */
function readableOn(background: string): string {
  const match = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(background);
  if (!match) return '#fff';
  const [r, g, b] = match.slice(1).map((h) => (parseInt(h, 16) / 255) ** 2.2);
  return 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.3 ? '#1a1a1a' : '#fff';
}
const PANEL_GAP = 34;

/** Grouped bars (one group per category, one bar per series) in one or more stacked panels. */
export function barChart(spec: BarChartSpec): string {
  const values = spec.panels.flatMap((p) => p.series.flatMap((s) => s.values)).filter((v): v is number => v !== null && Number.isFinite(v));
  const refs = (spec.refLines ?? []).filter((r) => Number.isFinite(r.value));
  const yScale = axisScale(spec.y, [0, ...values, ...refs.map((r) => r.value)], 4);
  const { head, top } = frame(spec.title, spec.width, spec.legend);
  const w = spec.width - MARGIN.left - MARGIN.right;
  const panels = Math.max(1, spec.panels.length);
  const height = top + panels * (PANEL_TITLE + spec.panelHeight) + (panels - 1) * PANEL_GAP + MARGIN.bottom;
  const body: string[] = [head];
  const n = Math.max(1, spec.categories.length);
  const slot = w / n;

  if (spec.panels.length === 0) {
    const box: Box = { x: MARGIN.left, y: top + PANEL_TITLE, w, h: spec.panelHeight };
    body.push(axes(box, [], [], { x: spec.xLabel, y: spec.y.label, xGrid: false }), message(box, spec.empty ?? 'no data'));
  }
  spec.panels.forEach((panel, index) => {
    const y0 = top + index * (PANEL_TITLE + spec.panelHeight + PANEL_GAP);
    const box: Box = { x: MARGIN.left, y: y0 + PANEL_TITLE, w, h: spec.panelHeight };
    const sy = linear(yScale.lo, yScale.hi, box.y + box.h, box.y);
    const xTicks = spec.categories.map((label, i) => ({ at: box.x + slot * (i + 0.5), label, hint: spec.categoryHints?.[i] }));
    const last = index === spec.panels.length - 1;
    body.push(`<g class="panel" data-panel="${escapeXml(panel.title)}">`);
    body.push(text(box.x, y0 + 12, panel.title, `font-weight="600" fill="${TEXT}"`));
    body.push(axes(box, xTicks, numericTicks(yScale, spec.y, sy), { x: last ? spec.xLabel : undefined, y: spec.y.label, xGrid: false }));
    const groupWidth = slot * 0.78;
    const barWidth = groupWidth / Math.max(1, panel.series.length);
    panel.series.forEach((series, s) => {
      const bars: string[] = [];
      series.values.forEach((value, i) => {
        if (value === null || !Number.isFinite(value) || i >= n) return;
        const x = box.x + slot * i + (slot - groupWidth) / 2 + s * barWidth;
        const yTop = sy(Math.max(yScale.lo, Math.min(yScale.hi, value)));
        const yBase = sy(Math.max(yScale.lo, 0));
        const hint = `<title>${escapeXml(`${spec.categoryHints?.[i] ?? spec.categories[i]}: ${series.name} ${value}`)}</title>`;
        bars.push(`<rect x="${px(x + 0.5)}" y="${px(Math.min(yTop, yBase))}" width="${px(Math.max(1, barWidth - 1))}" height="${px(Math.abs(yBase - yTop))}">${hint}</rect>`);
        // Values sit inside the top of the bar, or just above a bar too short to hold them.
        if (spec.valueLabels && barWidth >= 11) {
          const inside = Math.abs(yBase - yTop) >= 15;
          const y = Math.min(yTop, yBase) + (inside ? 11 : -3);
          const fill = inside ? readableOn(series.color) : MUTED;
          bars.push(`<text x="${px(x + barWidth / 2)}" y="${px(y)}" text-anchor="middle" font-size="10" fill="${fill}">${escapeXml(String(value))}</text>`);
        }
      });
      body.push(`<g class="bars" data-series="${escapeXml(series.name)}" fill="${escapeXml(series.color)}">${bars.join('')}</g>`);
    });
    for (const ref of refs) body.push(horizontalRef(box, sy(ref.value), ref));
    body.push('</g>');
  });
  return svgRoot(spec.id, spec.title, spec.width, height, body.join(''));
}
