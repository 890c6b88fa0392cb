/**
 * The units a study is written in, by people at a command line or in a YAML file:
 * fractions as "5%" or 0.05, durations as "30s", "2m", "500ms" or a bare number of
 * seconds. Each parser returns null for text it cannot read, so the caller can name the
 * field in its error.
 */

/** "5%" → 0.05, "0.05" → 0.05, 0.05 → 0.05; null when not a finite number. */
export function parseFraction(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value !== 'string') return null;
  const text = value.trim();
  const match = /^(-?\d+(?:\.\d+)?)\s*(%?)$/.exec(text);
  if (match === null) return null;
  const n = Number(match[1]);
  return match[2] === '%' ? n / 100 : n;
}

const kDurationUnitsMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000 };

/** "30s" → 30000, "2m" → 120000, "500ms" → 500, 12 or "12" → 12000 (seconds); null when unreadable. */
export function parseDurationMs(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value * 1000 : null;
  if (typeof value !== 'string') return null;
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?$/.exec(value.trim());
  if (match === null) return null;
  return Number(match[1]) * kDurationUnitsMs[match[2] ?? 's']!;
}
