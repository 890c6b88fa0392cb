import type { InstallOutcome } from '../install/install-outcome.js';
import type { InstallOperationView } from '../install/install-operations.js';
import type { InstalledComponentView } from '../install/install-service.js';
import type { PackageSummary } from '../install/package-store.js';

export type { InstallOutcome } from '../install/install-outcome.js';
export type { InstallOperationEvent, InstallOperationView } from '../install/install-operations.js';
export type { InstalledComponentView } from '../install/install-service.js';
export type { PackageSummary } from '../install/package-store.js';

/**
 * What the install routes ask of the agent (src/install/farm-install.ts implements it):
 * the packages this node holds, adding one, installing a component here or rolling it
 * out to other nodes, removing one. Methods throw InstallError; the routes turn its
 * code into an HTTP status.
 */

/** Where to install: named nodes, a landscape (resolved by the farm), or a landscape statement. */
export type InstallTarget = { readonly nodes: readonly string[] } | { readonly landscape: string } | { readonly sql: string };

export interface InstallRequest {
  readonly name: string;
  readonly version: string;
  /** Pins the package content; by default the checksum of this node's copy, if it holds one. */
  readonly checksum?: string;
  readonly config?: Readonly<Record<string, unknown>>;
  /** Absent: this node only. */
  readonly target?: InstallTarget;
  /** Nodes installed at once in a rollout (default 1). */
  readonly batch?: number;
}

/** A package held, and whether this node runs it. */
export interface PackageView extends PackageSummary {
  readonly installed: boolean;
}

export interface InstallBackend {
  packages(): PackageView[];
  /** Imports a package directory or archive (.gxpkg) at a path on the agent's host. */
  addPackage(path: string, by: string): Promise<PackageView>;
  /** Starts an install (or a rollout) and returns its operation at once; follow it with installOperation. */
  installComponent(request: InstallRequest, by: string): InstallOperationView;
  removeComponent(name: string, by: string): Promise<InstallOutcome>;
  /** An operation with its events after sequence number `after`. */
  installOperation(id: string, after: number): InstallOperationView;
  installOperations(): InstallOperationView[];
  installedComponents(): InstalledComponentView[];
}
