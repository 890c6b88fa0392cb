// Types for the devDependency parse-prometheus-text-format (it ships none): the subset
// of its output the API tests read. Values stay strings, as the parser leaves them
// ("NaN", "+Inf"), so a test sees exactly what was written.
declare module 'parse-prometheus-text-format' {
  export interface ParsedSample {
    readonly value: string;
    readonly labels?: Readonly<Record<string, string>>;
  }
  export interface ParsedFamily {
    readonly name: string;
    readonly help: string;
    /** Upper case: COUNTER, GAUGE, UNTYPED, ... */
    readonly type: string;
    readonly metrics: readonly ParsedSample[];
  }
  export default function parsePrometheusTextFormat(text: string): ParsedFamily[];
}
