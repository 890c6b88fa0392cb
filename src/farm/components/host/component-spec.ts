import { isAbsolute } from 'node:path';
import { ComponentError } from './component-error.js';
import { kMemoryMbMax, kMemoryMbMin } from './component-host-options.js';
import { jsonObjectProblem, kConfigJsonLengthMax } from './component-limits.js';

/** A component the host is asked to run. */
export interface ComponentSpec {
  /** Unique on this node; also the name of its state directory, hence the narrow alphabet. */
  readonly name: string;
  /** Its service kind: components of one kind on different nodes are peers. */
  readonly kind: string;
  /** Absolute path of the component's compiled ES module (default export: a definition). */
  readonly module: string;
  /** Its initial configuration (JSON); replaced by each accepted configure. */
  readonly config?: Readonly<Record<string, unknown>>;
  /** V8 old-space limit of its process, in MB; the host's memoryMbDefault if absent. */
  readonly memoryMb?: number;
}

/** A spec with every field checked and filled. */
export interface CheckedComponentSpec {
  readonly name: string;
  readonly kind: string;
  readonly module: string;
  readonly config: Readonly<Record<string, unknown>>;
  readonly memoryMb: number;
}

const kNamePattern = /^[a-z][a-z0-9-]{0,62}$/;
/** Kinds travel in farm control messages, which allow 1 to 64 characters. */
const kKindPattern = /^[a-z][a-z0-9-]{0,63}$/;

function bad(message: string): never {
  throw new ComponentError('GALAXY_COMPONENT_BAD_SPEC', message);
}

/**
 * A configuration as the host keeps it: a plain JSON object, copied through JSON so the
 * caller's later changes do not leak in and so it persists exactly as it was accepted.
 */
export function checkedConfig(config: unknown): Readonly<Record<string, unknown>> {
  const problem = jsonObjectProblem(config, kConfigJsonLengthMax, 'a component configuration');
  if (problem !== null) throw new ComponentError('GALAXY_COMPONENT_BAD_CONFIG', problem.detail);
  return Object.freeze(JSON.parse(JSON.stringify(config)) as Record<string, unknown>);
}

export function checkComponentSpec(spec: ComponentSpec, memoryMbDefault: number): CheckedComponentSpec {
  if (typeof spec !== 'object' || spec === null) bad('a component spec must be an object');
  if (typeof spec.name !== 'string' || !kNamePattern.test(spec.name)) bad(`component name "${String(spec.name)}" must match ${kNamePattern}`);
  if (typeof spec.kind !== 'string' || !kKindPattern.test(spec.kind)) bad(`component kind "${String(spec.kind)}" must match ${kKindPattern}`);
  if (typeof spec.module !== 'string' || !isAbsolute(spec.module)) bad(`component "${spec.name}": module must be an absolute path`);
  const memoryMb = spec.memoryMb ?? memoryMbDefault;
  if (!Number.isSafeInteger(memoryMb) || memoryMb < kMemoryMbMin || memoryMb > kMemoryMbMax) bad(`component "${spec.name}": memoryMb must be an integer from ${kMemoryMbMin} to ${kMemoryMbMax}`);
  let config: Readonly<Record<string, unknown>>;
  try {
    config = checkedConfig(spec.config ?? {});
  } catch (error) {
    bad(`component "${spec.name}": ${(error as Error).message}`);
  }
  return { name: spec.name, kind: spec.kind, module: spec.module, config, memoryMb };
}
