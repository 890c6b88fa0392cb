import { z } from 'zod';
import { kFarmEventSeveritySchema, kFarmEventTypeSchema } from './farm-event.js';

/**
 * The event service's configuration, given to the `events` component on every node
 * (and changeable at runtime: the component rebuilds its rules and log followers).
 *
 *   management      this node stores the farm's events (it has the management role):
 *                   it serves events.store and events.query and runs the correlations.
 *   thresholds      rules on this node's values (the Measurement service's): fire an
 *                   event when `key op value` becomes true (and has stayed true forMs),
 *                   once per crossing; the rule re-arms when it becomes false again.
 *   logs            files to follow: each line matching `pattern` raises an event. The
 *                   file is followed across rotation (renamed and recreated) and
 *                   truncation; lines longer than kLogLineLengthMax are cut.
 *   correlations    (management) when `count` events of `type` on nodes of `landscape`
 *                   (every node when absent) fall within `windowMs`, raise `raise` once
 *                   for that window.
 *   retention       (management) events older than maxAgeMs, and the oldest beyond
 *                   maxRows, are deleted; an event arriving already older than maxAgeMs
 *                   is acknowledged and not stored.
 *   outboxMax       events kept for delivery at most; beyond, the oldest are dropped,
 *                   counted and reported (a warning event). 100,000 events of ~1 KiB is
 *                   ~100 MB of disk, hours of a busy node cut off from management.
 *   batchMax        events per delivery to a management node (the JSON of a batch also
 *                   stays under the RPC body bound).
 *   retry           backoff of a failed delivery: initialMs doubling up to maxMs. Short
 *                   enough that a restarted management node is caught up within maxMs.
 *   membersRefreshMs how often the management nodes are looked up (farm.members).
 *   logPollMs       how often followed log files are read.
 *   callTimeoutMs   how long one delivery may take before it counts as failed.
 */
export const kThresholdRulesMax = 256;
export const kLogFilesMax = 32;
export const kCorrelationRulesMax = 64;
/** Characters of a log pattern: a regular expression, not a program. */
export const kLogPatternLengthMax = 512;
/** A value key, as the component host allows them (component-limits.ts). */
const kValueKeyPattern = /^[A-Za-z0-9_.:-]{1,64}$/;
/** A landscape name, as the landscape registry allows them. */
const kLandscapeNamePattern = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const kDayMs = 24 * 60 * 60 * 1000;

export const kThresholdOps = ['>', '>=', '<', '<=', '==', '!='] as const;
export type ThresholdOp = (typeof kThresholdOps)[number];

export const kThresholdRuleSchema = z
  .object({
    key: z.string().regex(kValueKeyPattern, 'a value key is 1 to 64 of A-Z a-z 0-9 _ . : -'),
    op: z.enum(kThresholdOps),
    value: z.number().finite(),
    type: kFarmEventTypeSchema,
    severity: kFarmEventSeveritySchema.default('warning'),
    forMs: z.number().int().min(0).max(kDayMs).default(0),
  })
  .strict();

export const kLogRuleSchema = z
  .object({
    path: z.string().min(2).max(1024).startsWith('/', 'a log path must be absolute'),
    pattern: z
      .string()
      .min(1)
      .max(kLogPatternLengthMax)
      .refine((pattern) => compiles(pattern), 'a log pattern must be a valid regular expression'),
    /** Regular expression flags: i (ignore case) only; g and y would make matching stateful. */
    flags: z.enum(['', 'i']).default(''),
    type: kFarmEventTypeSchema,
    severity: kFarmEventSeveritySchema.default('warning'),
  })
  .strict();

export const kCorrelationRuleSchema = z
  .object({
    /** Names the rule in the raised event and in its once-per-window bookkeeping; default `<type>@<landscape or *>`. */
    name: z.string().regex(/^[A-Za-z0-9_.@*:-]{1,128}$/).optional(),
    type: kFarmEventTypeSchema,
    landscape: z.string().regex(kLandscapeNamePattern, 'a landscape name is 1 to 64 of A-Z a-z 0-9 _ . - starting with a letter or digit').optional(),
    count: z.number().int().min(2).max(100_000),
    windowMs: z.number().int().min(1000).max(7 * kDayMs),
    raise: z.object({ type: kFarmEventTypeSchema, severity: kFarmEventSeveritySchema.default('warning') }).strict(),
  })
  .strict();

export const kEventsConfigSchema = z
  .object({
    management: z.boolean().default(false),
    thresholds: z.array(kThresholdRuleSchema).max(kThresholdRulesMax).default([]),
    logs: z.array(kLogRuleSchema).max(kLogFilesMax).default([]),
    correlations: z.array(kCorrelationRuleSchema).max(kCorrelationRulesMax).default([]),
    retention: z
      .object({
        maxAgeMs: z.number().int().min(60_000).max(3650 * kDayMs).default(30 * kDayMs),
        maxRows: z.number().int().min(100).max(100_000_000).default(1_000_000),
      })
      .strict()
      .default({}),
    outboxMax: z.number().int().min(100).max(10_000_000).default(100_000),
    batchMax: z.number().int().min(1).max(1000).default(100),
    retry: z
      .object({ initialMs: z.number().int().min(10).max(60_000).default(500), maxMs: z.number().int().min(10).max(600_000).default(30_000) })
      .strict()
      .refine((retry) => retry.maxMs >= retry.initialMs, 'retry.maxMs must be at least retry.initialMs')
      .default({}),
    membersRefreshMs: z.number().int().min(100).max(300_000).default(5000),
    logPollMs: z.number().int().min(50).max(60_000).default(1000),
    callTimeoutMs: z.number().int().min(100).max(120_000).default(10_000),
  })
  .strict();

export type EventsConfig = z.infer<typeof kEventsConfigSchema>;
export type ThresholdRule = z.infer<typeof kThresholdRuleSchema>;
export type LogRule = z.infer<typeof kLogRuleSchema>;
export type CorrelationRule = z.infer<typeof kCorrelationRuleSchema>;

function compiles(pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}

/** The name a correlation rule goes by. */
export function correlationName(rule: CorrelationRule): string {
  return rule.name ?? `${rule.type}@${rule.landscape ?? '*'}`;
}

/** A configuration, or an error naming each field that is wrong (it reaches the operator). */
export function parseEventsConfig(config: unknown): EventsConfig {
  const parsed = kEventsConfigSchema.safeParse(config);
  if (parsed.success) return parsed.data;
  throw new Error(`invalid events configuration: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
}
