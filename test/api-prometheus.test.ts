// Proves formatPrometheus writes text exposition format 0.0.4 that an independent parser
// (parse-prometheus-text-format, a port of the Prometheus Python client's parser) reads
// back to the same families, help, types, label sets and values: special values
// (NaN, +Inf, -Inf), HELP escaping, and label values with backslashes, quotes, newlines
// and arbitrary Unicode round-trip, the last checked as a property over random strings.
// Families the format cannot carry (bad names, duplicates, negative counters) throw.
import fc from 'fast-check';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { describe, expect, it } from 'vitest';
import type { MetricFamily } from '../src/core/util/metric-family.js';
import { formatPrometheus, PrometheusFormatError } from '../src/ops/api/prometheus.js';

const parse = parsePrometheusTextFormat;

describe('formatPrometheus', () => {
  it('writes HELP, TYPE and samples that an independent parser reads back', () => {
    const families: MetricFamily[] = [
      { name: 'galaxy_members', help: 'Members by status.', type: 'gauge', samples: [{ labels: { status: 'alive' }, value: 12 }, { labels: { status: 'dead' }, value: 0 }] },
      { name: 'galaxy_datagrams_sent_total', help: 'Datagrams sent.', type: 'counter', samples: [{ value: 123456789012 }] },
      { name: 'galaxy:ratio', help: 'A recording-rule style name.', type: 'gauge', samples: [{ value: 0.125 }, { labels: { a: '1', b: '2' }, value: -3.5e-7 }] },
    ];
    const text = formatPrometheus(families);
    expect(text.endsWith('\n')).toBe(true);
    expect(text).toContain('# TYPE galaxy_datagrams_sent_total counter\n');
    expect(parse(text)).toEqual([
      { name: 'galaxy_members', help: 'Members by status.', type: 'GAUGE', metrics: [{ labels: { status: 'alive' }, value: '12' }, { labels: { status: 'dead' }, value: '0' }] },
      { name: 'galaxy_datagrams_sent_total', help: 'Datagrams sent.', type: 'COUNTER', metrics: [{ value: '123456789012' }] },
      { name: 'galaxy:ratio', help: 'A recording-rule style name.', type: 'GAUGE', metrics: [{ value: '0.125' }, { labels: { a: '1', b: '2' }, value: '-3.5e-7' }] },
    ]);
  });

  it('writes NaN, +Inf and -Inf as Prometheus spells them, and values that parse back exactly', () => {
    const values = [Number.NaN, Infinity, -Infinity, 0, 1e21, 5e-324, Number.MAX_SAFE_INTEGER, 0.1 + 0.2];
    const text = formatPrometheus([{ name: 'g', help: 'h', type: 'gauge', samples: values.map((value, i) => ({ labels: { i: String(i) }, value })) }]);
    const parsed = parse(text)[0]!.metrics.map((m) => m.value);
    expect(parsed.slice(0, 3)).toEqual(['NaN', '+Inf', '-Inf']);
    // Go's ParseFloat (and JavaScript's Number) read the finite spellings back to the same double.
    expect(parsed.slice(3).map(Number)).toEqual(values.slice(3));
  });

  it('escapes label values (backslash, quote, newline) so they round-trip', () => {
    const tricky = ['C:\\DIR\\FILE.TXT', 'say "hi"', 'two\nlines', '\\n is not a newline', 'ünïcødé ✓ 𝄞', '{braces},commas=', ''];
    const text = formatPrometheus([{ name: 'labels_test', help: 'h', type: 'gauge', samples: tricky.map((v, i) => ({ labels: { v, i: String(i) }, value: i })) }]);
    expect(text).toContain('v="C:\\\\DIR\\\\FILE.TXT"');
    expect(text).toContain('v="say \\"hi\\""');
    expect(text).toContain('v="two\\nlines"');
    expect(text.split('\n').filter((line) => line !== '')).toHaveLength(2 + tricky.length);
    expect(parse(text)[0]!.metrics.map((m) => m.labels!['v'])).toEqual(tricky);
  });

  it('round-trips any label value (property, 300 random strings)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (value) => {
        const text = formatPrometheus([{ name: 'p', help: 'h', type: 'gauge', samples: [{ labels: { v: value }, value: 1 }] }]);
        expect(parse(text)[0]!.metrics[0]!.labels).toEqual({ v: value });
      }),
      { numRuns: 300, seed: 20240611 },
    );
  });

  it('escapes backslash and newline in HELP and leaves quotes alone', () => {
    const help = 'Path like C:\\tmp, "quoted",\nsecond line';
    const text = formatPrometheus([{ name: 'h', help, type: 'counter', samples: [{ value: 1 }] }]);
    expect(text.split('\n')[0]).toBe('# HELP h Path like C:\\\\tmp, "quoted",\\nsecond line');
    expect(parse(text)[0]!.help).toBe(help);
  });

  it('writes families without samples, and nothing for no families', () => {
    expect(formatPrometheus([])).toBe('');
    expect(formatPrometheus([{ name: 'empty', help: 'none yet', type: 'gauge', samples: [] }])).toBe('# HELP empty none yet\n# TYPE empty gauge\n');
  });

  it('sorts label names, so a label set always prints the same', () => {
    const text = formatPrometheus([{ name: 's', help: 'h', type: 'gauge', samples: [{ labels: { zeta: '1', alpha: '2' }, value: 1 }] }]);
    expect(text).toContain('s{alpha="2",zeta="1"} 1');
  });

  it('throws a coded error for what the format cannot carry', () => {
    const bad = (families: MetricFamily[]): string => {
      try {
        formatPrometheus(families);
      } catch (error) {
        expect(error).toBeInstanceOf(PrometheusFormatError);
        expect((error as PrometheusFormatError).code).toBe('GALAXY_PROMETHEUS_FORMAT');
        return (error as Error).message;
      }
      throw new Error('expected formatPrometheus to throw');
    };
    const gauge = (name: string, samples: MetricFamily['samples'] = [{ value: 1 }]): MetricFamily => ({ name, help: 'h', type: 'gauge', samples });
    expect(bad([gauge('1starts_with_digit')])).toMatch(/metric name "1starts_with_digit" must match/);
    expect(bad([gauge('has-dash')])).toMatch(/must match/);
    expect(bad([gauge('')])).toMatch(/must match/);
    expect(bad([gauge('ok', [{ labels: { 'bad-label': 'x' }, value: 1 }])])).toMatch(/label name "bad-label"/);
    expect(bad([gauge('ok', [{ labels: { __reserved: 'x' }, value: 1 }])])).toMatch(/label name "__reserved"/);
    expect(bad([gauge('ok', [{ labels: { 'a:b': 'x' }, value: 1 }])])).toMatch(/label name "a:b"/);
    expect(bad([gauge('twice'), gauge('twice')])).toMatch(/appears twice/);
    expect(bad([gauge('dup', [{ labels: { a: '1' }, value: 1 }, { labels: { a: '1' }, value: 2 }])])).toMatch(/two samples/);
    expect(bad([{ name: 'c_total', help: 'h', type: 'counter', samples: [{ value: -1 }] }])).toMatch(/counter cannot be negative/);
    expect(bad([{ name: 'x', help: 'h', type: 'histogram' as 'gauge', samples: [] }])).toMatch(/type must be counter or gauge/);
  });
});
