import { join } from 'node:path';
import { z } from 'zod';
import { compiledModulePath } from '../../core/platform/package-root.js';
import type { ComponentSpec } from '../components/host/component-spec.js';
import { defineComponent, type ComponentContext } from '../components/sdk.js';
import { ProcSampler, type Measurement } from './proc-sampler.js';

/**
 * The Measurement service (Galaxy paper, section 6: it "collects local performance
 * information and posts this information in the Farm Management Information Database
 * ... the update frequency is configurable at runtime") as a farm service component: it
 * samples this node's CPU, load, memory, disk and network (ProcSampler) every intervalMs
 * and posts the sample as this node's values.
 *
 * Configuration:
 *   intervalMs  time between samples, 100 ms to 1 h (default 5 s). Shorter is fresher
 *               but costs five file reads and a statfs per sample; rates (CPU, network)
 *               are averages over the interval, so short intervals are also noisier.
 *   diskPath    the filesystem whose size and free space are reported (default "/").
 */
export const kMeasurementIntervalMsMin = 100;
export const kMeasurementIntervalMsMax = 60 * 60 * 1000;
export const kMeasurementIntervalMsDefault = 5000;

export const kMeasurementConfigSchema = z
  .object({
    intervalMs: z.number().int().min(kMeasurementIntervalMsMin).max(kMeasurementIntervalMsMax).default(kMeasurementIntervalMsDefault),
    diskPath: z.string().min(1).max(4096).startsWith('/').default('/'),
  })
  .strict();

export type MeasurementConfig = z.infer<typeof kMeasurementConfigSchema>;

/** A configuration, or an error naming each field that is wrong (it reaches the operator). */
export function parseMeasurementConfig(config: unknown): MeasurementConfig {
  const parsed = kMeasurementConfigSchema.safeParse(config);
  if (parsed.success) return parsed.data;
  throw new Error(`invalid measurement configuration: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
}

/** The compiled module the component host forks (under dist/, so it works from tests and from the package alike). */
export function measurementComponentPath(): string {
  return compiledModulePath(import.meta.url);
}

/** The spec to add the Measurement service to a ComponentHost; spread it to set a config. */
export const kMeasurementComponent: ComponentSpec = Object.freeze({ name: 'measurement', kind: 'measurement', module: measurementComponentPath() });

/** The sampling loop of one component process. */
class MeasurementService {
  private config: MeasurementConfig;
  private sampler: ProcSampler;
  private timer: NodeJS.Timeout | null = null;
  private samples = 0;
  private failures = 0;
  /** Failures since the last good sample; an event is raised on the first of a run only. */
  private failingFor = 0;
  private lastSampleAt: string | null = null;

  constructor(
    config: MeasurementConfig,
    private readonly ctx: ComponentContext,
  ) {
    this.config = config;
    this.sampler = new ProcSampler(undefined, config.diskPath);
  }

  /** Takes the baseline sample the first rates are computed from; throws if this node cannot be measured. */
  start(): void {
    this.sampler.sample();
    this.schedule();
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Applies a new configuration; the next sample comes one new interval from now. */
  reconfigure(config: MeasurementConfig): void {
    if (config.diskPath !== this.config.diskPath) {
      const sampler = new ProcSampler(undefined, config.diskPath);
      sampler.sample(); // throws (refusing the configuration) if the path cannot be measured
      this.sampler = sampler;
    }
    this.config = config;
    if (this.timer !== null) {
      this.stop();
      this.schedule();
    }
  }

  status(): Record<string, unknown> {
    return { intervalMs: this.config.intervalMs, diskPath: this.config.diskPath, samples: this.samples, failures: this.failures, lastSampleAt: this.lastSampleAt };
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.tick();
      this.schedule();
    }, this.config.intervalMs);
  }

  /**
   * One sample, posted. A failed read (a /proc file missing for a moment, a disk path
   * unmounted) is reported and retried at the next interval rather than crashing the
   * component: a restart would not make the file reappear.
   */
  private tick(): void {
    let sample: Measurement;
    try {
      sample = this.sampler.sample();
    } catch (error) {
      this.failures++;
      if (this.failingFor++ === 0) {
        const message = (error as Error).message;
        this.ctx.log.warn(`sample failed: ${message}`);
        this.ctx.raise('measurement.sample-failed', 'warning', { error: message.slice(0, 512) });
      }
      return;
    }
    if (this.failingFor > 0) this.ctx.raise('measurement.sample-recovered', 'info', { failedSamples: this.failingFor });
    this.failingFor = 0;
    this.samples++;
    this.lastSampleAt = new Date().toISOString();
    this.ctx.postValues({ ...sample });
  }
}

let service: MeasurementService | null = null;

function running(): MeasurementService {
  if (service === null) throw new Error('the measurement component is not initialised');
  return service;
}

export default defineComponent({
  init(ctx) {
    service = new MeasurementService(parseMeasurementConfig(ctx.config), ctx);
  },
  start() {
    running().start();
  },
  stop() {
    running().stop();
  },
  configure(config) {
    running().reconfigure(parseMeasurementConfig(config));
  },
  status() {
    return running().status();
  },
});
