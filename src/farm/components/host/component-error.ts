import { CodedError } from '../../../core/util/coded-error.js';
/**
 * Stable codes for what the component host refuses or could not do. A caller's mistake
 * (an unknown name, a bad spec) and an operating failure (a component that rejected its
 * configuration, or did not answer in time) both come back as a ComponentError, so the
 * farm service and the API can map them without parsing messages.
 */
export const kComponentErrorCodes = [
  /** Host options out of range. */
  'GALAXY_COMPONENT_BAD_OPTIONS',
  /** A component spec (name, kind, module, memory, config) is invalid. */
  'GALAXY_COMPONENT_BAD_SPEC',
  /** A configuration is not a plain object or exceeds the size limit. */
  'GALAXY_COMPONENT_BAD_CONFIG',
  /** No component of that name was added. */
  'GALAXY_COMPONENT_UNKNOWN',
  /** A component of that name was added already. */
  'GALAXY_COMPONENT_EXISTS',
  /** The host holds its maximum number of components. */
  'GALAXY_COMPONENT_TOO_MANY',
  /** The host was closed. */
  'GALAXY_COMPONENT_CLOSED',
  /** The component has no live process to ask. */
  'GALAXY_COMPONENT_NOT_RUNNING',
  /** The component did not answer a control message in time (it is killed and restarted). */
  'GALAXY_COMPONENT_UNRESPONSIVE',
  /** The component's process exited while a control message was outstanding. */
  'GALAXY_COMPONENT_EXITED',
  /** The component's configure handler rejected the configuration. */
  'GALAXY_COMPONENT_CONFIG_REJECTED',
  /** The component answered a control message with an error. */
  'GALAXY_COMPONENT_FAILED',
  /** A component called an SDK function with values beyond the IPC bounds (a bug in the component). */
  'GALAXY_COMPONENT_LIMIT',
  /** A component module's default export is not a component definition. */
  'GALAXY_COMPONENT_BAD_DEFINITION',
] as const;

export type ComponentErrorCode = (typeof kComponentErrorCodes)[number];

export class ComponentError extends CodedError<ComponentErrorCode> {}

/** The message of anything thrown, cut to `lengthMax` characters (errors cross IPC bounded). */
export function errorText(error: unknown, lengthMax = 4096): string {
  const text = error instanceof Error ? error.message || error.name : String(error);
  return text.length <= lengthMax ? text : `${text.slice(0, lengthMax - 1)}…`;
}
