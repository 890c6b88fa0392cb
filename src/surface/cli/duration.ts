/**
 * A duration as an operator types it on the command line: "500ms", "30s", "5m", "2h",
 * or a bare number of seconds. Returns milliseconds, or null when the text is none of
 * these (the caller names the flag in its error).
 */
const kUnitMs: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseDurationMs(text: string): number | null {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (match === null) return null;
  const ms = Number(match[1]) * kUnitMs[match[2] ?? 's']!;
  return Number.isSafeInteger(Math.round(ms)) ? Math.round(ms) : null;
}
