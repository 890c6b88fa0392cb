import { CodedError } from '../../core/util/coded-error.js';

/**
 * Stable codes for what the package store, the fetcher, the install service and the
 * rollout refuse or could not do. Callers (the API, the CLI, the tests, a rollout
 * coordinator reading a remote node's answer) branch on the code, never on the message.
 * ONLY APPEND TO THIS LIST: the codes cross the farm in RPC answers.
 */
export const kInstallErrorCodes = [
  /** A package manifest is missing, not JSON, or does not match the schema. */
  'GALAXY_PACKAGE_BAD_MANIFEST',
  /** A file path in a package is absolute, climbs out of the package, or uses characters outside the allowed set. */
  'GALAXY_PACKAGE_BAD_PATH',
  /** A package file is not a regular file (a symbolic link, a device), or cannot be read. */
  'GALAXY_PACKAGE_BAD_FILE',
  /** A file's bytes do not match its sha256 or its size in the manifest. */
  'GALAXY_PACKAGE_FILE_MISMATCH',
  /** The package checksum does not match the manifest and its file list. */
  'GALAXY_PACKAGE_CHECKSUM_MISMATCH',
  /** A package exceeds a bound: total bytes, file count, manifest size. */
  'GALAXY_PACKAGE_TOO_LARGE',
  /** An archive is truncated, has trailing bytes, or does not start with the package magic. */
  'GALAXY_PACKAGE_BAD_ARCHIVE',
  /** No package of that name and version in the store. */
  'GALAXY_PACKAGE_UNKNOWN',
  /** The store holds this name and version with different content: a version is immutable. */
  'GALAXY_PACKAGE_CONFLICT',
  /** A package that is installed cannot be removed from the store. */
  'GALAXY_PACKAGE_IN_USE',
  /** A request (RPC body, API body, desired entry) is malformed. */
  'GALAXY_INSTALL_BAD_REQUEST',
  /** No peer of the farm has the package (or every peer that has it failed to deliver it). */
  'GALAXY_INSTALL_NOT_FOUND',
  /** Peers announce different content for one name and version and no checksum was pinned. */
  'GALAXY_INSTALL_AMBIGUOUS',
  /** Fetching failed from every peer that has the package. */
  'GALAXY_INSTALL_FETCH_FAILED',
  /** The component did not reach 'running', or crashed within the settle window. */
  'GALAXY_INSTALL_START_FAILED',
  /** A component the package depends on is not running on this node. */
  'GALAXY_INSTALL_DEPENDENCY',
  /** The start order has a cycle (dependsOn). */
  'GALAXY_INSTALL_DEPENDENCY_CYCLE',
  /** The host runs a component of that name that this service did not install. */
  'GALAXY_INSTALL_NOT_MANAGED',
  /** The farm's desired state lists the component: change it there, not on one node. */
  'GALAXY_INSTALL_WANTED_BY_FARM',
  /** This node serves too many chunk requests already; the fetcher tries another peer. */
  'GALAXY_INSTALL_BUSY',
  /** The service was closed. */
  'GALAXY_INSTALL_CLOSED',
  /** A rollout target (a node id, a landscape) could not be resolved to nodes. */
  'GALAXY_INSTALL_BAD_TARGET',
  /** No operation with that id is kept. */
  'GALAXY_INSTALL_UNKNOWN_OPERATION',
  /** The component host refused the component's configuration. */
  'GALAXY_INSTALL_CONFIG_REJECTED',
  /** A caller (a farm node) may not ask this node to install or remove. */
  'GALAXY_INSTALL_FORBIDDEN',
  /** The component to remove is not installed on this node. */
  'GALAXY_INSTALL_NOT_INSTALLED',
  /** A removal for the cluster lifecycle of a component it did not install (by hand, a rollout): kept. */
  'GALAXY_INSTALL_NOT_OWNED',
  /** A member did not answer a chunk request in time. */
  'GALAXY_INSTALL_TIMEOUT',
  /** An install routed over an extra network (issue 19's admin network) to a member that publishes no address there. */
  'GALAXY_INSTALL_NO_ROUTE',
] as const;

export type InstallErrorCode = (typeof kInstallErrorCodes)[number];

export class InstallError extends CodedError<InstallErrorCode> {}

/** An error's code and message as they travel in outcomes and RPC answers. */
export interface ErrorSummary {
  readonly code: string;
  readonly message: string;
}

/** Characters of an error message carried in an outcome: outcomes cross the farm and the API. */
export const kErrorMessageLengthMax = 2048;

export function errorSummary(error: unknown, fallbackCode = 'GALAXY_INSTALL_FAILED'): ErrorSummary {
  const code = typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : fallbackCode;
  const text = error instanceof Error ? error.message || error.name : String(error);
  return { code, message: text.length <= kErrorMessageLengthMax ? text : `${text.slice(0, kErrorMessageLengthMax - 1)}…` };
}
