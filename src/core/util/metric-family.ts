/**
 * A metric family as any part of a node reports it (counters and gauges with labelled
 * samples); the API server formats families as Prometheus text exposition format 0.0.4
 * (src/ops/api/prometheus.ts). Plain data, so every layer can report without knowing
 * the format.
 */
export interface MetricFamily {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge';
  readonly samples: ReadonlyArray<{ readonly labels?: Readonly<Record<string, string>>; readonly value: number }>;
}
