import type { ThresholdOp, ThresholdRule } from './events-config.js';
import type { FarmEventSeverity } from './farm-event.js';

/** What a threshold rule raises when it fires. */
export interface ThresholdFiring {
  readonly type: string;
  readonly severity: FarmEventSeverity;
  readonly body: { readonly key: string; readonly op: ThresholdOp; readonly threshold: number; readonly value: number; readonly sinceMs: number; readonly forMs: number };
}

/** Where one rule stands: armed (condition false), holding since a time (true, not yet forMs), or fired. */
type RuleState = { readonly phase: 'armed' } | { readonly phase: 'holding'; readonly sinceMs: number } | { readonly phase: 'fired' };

const kArmed: RuleState = Object.freeze({ phase: 'armed' });

/**
 * Threshold rules over this node's values: a rule fires when its condition becomes true
 * and has held for forMs, once per crossing, not on every sample that is still beyond
 * the threshold; it re-arms when a sample makes the condition false again. A sample
 * without the rule's key, or with a non-numeric value, leaves the rule where it is
 * (a missing reading is not a recovery).
 *
 * Pure: the caller gives the time with each sample, so it is tested without a clock.
 * forMs is judged at samples: a condition true at two samples forMs apart is taken to
 * have held in between.
 */
export class ThresholdWatcher {
  private readonly states: RuleState[];

  constructor(private readonly rules: readonly ThresholdRule[]) {
    this.states = rules.map(() => kArmed);
  }

  /** Takes one sample of values at `nowMs`; returns the rules that fire now. */
  observe(values: Readonly<Record<string, number | string>>, nowMs: number): ThresholdFiring[] {
    const fired: ThresholdFiring[] = [];
    for (let i = 0; i < this.rules.length; i++) {
      const rule = this.rules[i]!;
      const value = values[rule.key];
      if (typeof value !== 'number' || !Number.isFinite(value)) continue;
      const { state, fires } = step(this.states[i]!, holds(value, rule.op, rule.value), rule.forMs, nowMs);
      this.states[i] = state;
      if (fires !== null) fired.push({ type: rule.type, severity: rule.severity, body: { key: rule.key, op: rule.op, threshold: rule.value, value, sinceMs: fires, forMs: rule.forMs } });
    }
    return fired;
  }
}

/** Whether `value op threshold` holds. */
export function holds(value: number, op: ThresholdOp, threshold: number): boolean {
  switch (op) {
    case '>':
      return value > threshold;
    case '>=':
      return value >= threshold;
    case '<':
      return value < threshold;
    case '<=':
      return value <= threshold;
    case '==':
      return value === threshold;
    case '!=':
      return value !== threshold;
  }
}

/** One rule's next state after a sample; `fires` is when the condition began holding, when it fires now. */
function step(state: RuleState, condition: boolean, forMs: number, nowMs: number): { state: RuleState; fires: number | null } {
  if (!condition) return { state: kArmed, fires: null };
  switch (state.phase) {
    case 'fired':
      return { state, fires: null };
    case 'armed':
      return forMs === 0 ? { state: { phase: 'fired' }, fires: nowMs } : { state: { phase: 'holding', sinceMs: nowMs }, fires: null };
    case 'holding':
      return nowMs - state.sinceMs >= forMs ? { state: { phase: 'fired' }, fires: state.sinceMs } : { state, fires: null };
  }
}
