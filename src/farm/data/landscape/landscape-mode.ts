/**
 * When a landscape is re-evaluated: `on-change`, when a column its statement reads
 * changes (at the next tick after the change), or `every`, on a fixed period. The CLI
 * spells them `--on-change` and `--every 10s`.
 */
import { LandscapeError } from './landscape-error.js';

export type LandscapeMode = { readonly kind: 'on-change' } | { readonly kind: 'every'; readonly periodMs: number };

export interface PeriodBounds {
  readonly periodMsMin: number;
  readonly periodMsMax: number;
}

const kUnitMs: Readonly<Record<string, number>> = Object.freeze({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 });

/** Parses a period such as `10s`, `500ms`, `5m` or `1h` (a bare number is seconds) into ms. */
export function parsePeriod(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (match === null) throw new LandscapeError('GALAXY_LANDSCAPE_BAD_MODE', `a period is a number with a unit (500ms, 10s, 5m, 1h), got ${JSON.stringify(text)}`);
  return Math.round(Number(match[1]) * kUnitMs[match[2] ?? 's']!);
}

/** The mode as the CLI spells it: `on-change` or `every 10s`. */
export function formatMode(mode: LandscapeMode): string {
  if (mode.kind === 'on-change') return 'on-change';
  const periodMs = mode.periodMs;
  if (periodMs % 3_600_000 === 0) return `every ${periodMs / 3_600_000}h`;
  if (periodMs % 60_000 === 0) return `every ${periodMs / 60_000}m`;
  if (periodMs % 1000 === 0) return `every ${periodMs / 1000}s`;
  return `every ${periodMs}ms`;
}

/** Checks a mode from a caller or a peer and returns a frozen copy without extra fields. */
export function checkMode(mode: unknown, bounds: PeriodBounds): LandscapeMode {
  if (typeof mode !== 'object' || mode === null) badMode('a landscape mode must be { kind: "on-change" } or { kind: "every", periodMs }');
  const { kind, periodMs } = mode as { kind?: unknown; periodMs?: unknown };
  if (kind === 'on-change') return Object.freeze({ kind: 'on-change' });
  if (kind !== 'every') badMode(`a landscape mode is "on-change" or "every", got ${JSON.stringify(kind)}`);
  if (typeof periodMs !== 'number' || !Number.isSafeInteger(periodMs) || periodMs < bounds.periodMsMin || periodMs > bounds.periodMsMax) {
    badMode(`an "every" landscape's period must be a whole number of ms from ${bounds.periodMsMin} to ${bounds.periodMsMax}, got ${String(periodMs)}`);
  }
  return Object.freeze({ kind: 'every', periodMs });
}

function badMode(message: string): never {
  throw new LandscapeError('GALAXY_LANDSCAPE_BAD_MODE', message);
}
