import type { MetricFamily } from '../../core/util/metric-family.js';

/**
 * The Prometheus text exposition format, version 0.0.4: for each family a HELP line,
 * a TYPE line and its samples, LF line ends, UTF-8.
 *
 * Everything that the format cannot carry is a bug in whoever built the families, so
 * it throws instead of writing text that a scraper would reject or misread: a bad
 * metric or label name, a family named twice, a sample repeated with the same labels,
 * a negative counter. A scrape that fails loudly is found at once; a scrape that
 * silently drops one family hides a hole in the dashboards for months.
 */
export const kPrometheusContentType = 'text/plain; version=0.0.4; charset=utf-8';

const kMetricNamePattern = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
/** Label names may not hold ':' (reserved for recording rules in metric names only). */
const kLabelNamePattern = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export class PrometheusFormatError extends Error {
  readonly code = 'GALAXY_PROMETHEUS_FORMAT';

  constructor(message: string) {
    super(message);
    this.name = 'PrometheusFormatError';
  }
}

/** The families as exposition text; '' for no families. */
export function formatPrometheus(families: readonly MetricFamily[]): string {
  const names = new Set<string>();
  const lines: string[] = [];
  for (const family of families) {
    if (names.has(family.name)) throw new PrometheusFormatError(`metric family "${family.name}" appears twice`);
    names.add(family.name);
    formatFamily(family, lines);
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

function formatFamily(family: MetricFamily, lines: string[]): void {
  if (!kMetricNamePattern.test(family.name)) throw new PrometheusFormatError(`metric name "${family.name}" must match ${kMetricNamePattern}`);
  if (family.type !== 'counter' && family.type !== 'gauge') throw new PrometheusFormatError(`metric "${family.name}": type must be counter or gauge, got "${String(family.type)}"`);
  lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`);
  lines.push(`# TYPE ${family.name} ${family.type}`);
  const labelSets = new Set<string>();
  for (const sample of family.samples) {
    const labels = formatLabels(family.name, sample.labels ?? {});
    if (labelSets.has(labels)) throw new PrometheusFormatError(`metric "${family.name}": two samples with the labels ${labels || '{}'}`);
    labelSets.add(labels);
    if (family.type === 'counter' && sample.value < 0) throw new PrometheusFormatError(`metric "${family.name}": a counter cannot be negative (${sample.value})`);
    lines.push(`${family.name}${labels} ${formatValue(family.name, sample.value)}`);
  }
}

/** `{a="x",b="y"}` with names sorted, so the same label set always prints the same; '' for none. */
function formatLabels(metric: string, labels: Readonly<Record<string, string>>): string {
  const names = Object.keys(labels).sort();
  if (names.length === 0) return '';
  const pairs = names.map((name) => {
    if (!kLabelNamePattern.test(name) || name.startsWith('__')) throw new PrometheusFormatError(`metric "${metric}": label name "${name}" must match ${kLabelNamePattern} and not start with "__"`);
    const value = labels[name];
    if (typeof value !== 'string') throw new PrometheusFormatError(`metric "${metric}": label "${name}" must be a string`);
    return `${name}="${escapeLabelValue(value)}"`;
  });
  return `{${pairs.join(',')}}`;
}

/** Label values escape backslash, double quote and line feed (format 0.0.4). */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

/** HELP text escapes backslash and line feed only; a quote is literal there. */
function escapeHelp(help: string): string {
  return help.replace(/[\\\n]/g, (c) => (c === '\n' ? '\\n' : '\\\\'));
}

/**
 * Go's ParseFloat spellings for the special values; a finite number prints as
 * JavaScript's shortest round-trip form, which ParseFloat reads back exactly
 * (including exponents such as 1e+21).
 */
function formatValue(metric: string, value: number): string {
  if (typeof value !== 'number') throw new PrometheusFormatError(`metric "${metric}": a sample value must be a number, got ${typeof value}`);
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}
