import { z } from 'zod';
import type { RpcCaller, RpcEndpoint } from './farm-peer.js';
import { InstallError } from './install-error.js';
import type { InstallOutcome } from './install-outcome.js';
import { kOwnerLengthMax } from './install-state-file.js';
import { kChunkBytesMax, kPackageConfigJsonLengthMax } from './package-limits.js';
import { kComponentNamePattern } from './package-manifest.js';
import type { PackageStore } from './package-store.js';
import { isSemver } from './semver.js';

/**
 * The install services a node offers the farm over FarmRpc, their bodies and answers:
 *
 *   install.have   {name, version}                        -> {have: false} | {have: true, manifest}
 *   install.apply  {name, version, checksum?, config?, network?, owner?} -> InstallOutcome  (install here, now;
 *                  with `network`, the package is fetched over this node's extra network of
 *                  that name, from members that publish `net.<network>`, and nowhere else;
 *                  `owner`, the cluster lifecycle's operation, is recorded when nothing of
 *                  that name was here: install-service.ts install)
 *   install.remove {name, ownedOnly?}                     -> InstallOutcome  (`ownedOnly`: a
 *                  component no owner installed is kept, GALAXY_INSTALL_NOT_OWNED)
 *
 * The package bytes themselves travel on the chunk channel (chunk-channel.ts), whose
 * requests are the ChunkRequest below. Bodies are checked with strict schemas at the
 * receiver; answers are checked by the caller (the fetcher, the rollout), since the
 * farm's peers are trusted to be members, not to be bug-free.
 */
export const kServiceHave = 'install.have';
export const kServiceApply = 'install.apply';
export const kServiceRemove = 'install.remove';

const kName = z.string().regex(kComponentNamePattern);
const kVersion = z.string().refine(isSemver, 'not a semantic version');
const kChecksum = z.string().regex(/^[0-9a-f]{64}$/);
const kOwner = z.string().min(1).max(kOwnerLengthMax);
const kConfig = z.record(z.unknown()).refine((c) => JSON.stringify(c).length <= kPackageConfigJsonLengthMax, 'configuration too large');

export const kHaveBodySchema = z.object({ name: kName, version: kVersion }).strict();
export const kChunkBodySchema = z
  .object({ name: kName, version: kVersion, path: z.string().max(255), offset: z.number().int().min(0), length: z.number().int().min(1).max(kChunkBytesMax) })
  .strict();
/** An extra network's name, as `galaxy agent --network NAME=HOST` gives it and `net.NAME` publishes it. */
export const kNetworkNameSchema = z.string().min(1).max(64).regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/);
export const kApplyBodySchema = z.object({ name: kName, version: kVersion, checksum: kChecksum.optional(), config: kConfig.optional(), network: kNetworkNameSchema.optional(), owner: kOwner.optional() }).strict();
export const kRemoveBodySchema = z.object({ name: kName, ownedOnly: z.boolean().optional() }).strict();

export type ApplyRequest = z.infer<typeof kApplyBodySchema>;
export type ChunkRequest = z.infer<typeof kChunkBodySchema>;

export const kHaveAnswerSchema = z.union([z.object({ have: z.literal(false) }), z.object({ have: z.literal(true), manifest: z.unknown() })]);

function parse<S extends z.ZodTypeAny>(schema: S, body: unknown, service: string): z.output<S> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new InstallError('GALAXY_INSTALL_BAD_REQUEST', `${service}: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

export interface InstallRpcHandlers {
  readonly store: PackageStore;
  /** Installs on this node (install.apply); absent: the service is not offered. */
  readonly apply?: (request: ApplyRequest, from: RpcCaller) => Promise<InstallOutcome>;
  readonly remove?: (name: string, from: RpcCaller, options: { readonly ownedOnly?: boolean }) => Promise<InstallOutcome>;
  /**
   * Whether a node may ask this one to install or remove (install.apply, install.remove).
   * Reading packages (have, and the chunk channel) is open to every member: what a
   * member may run is decided by whoever applies, and packages are no secret inside the farm.
   */
  readonly authorize?: (from: RpcCaller, service: string) => boolean;
}

/** Counts for metrics and tests. */
export interface InstallRpcCounters {
  haveAnswered: number;
  refused: number;
}

/** Registers the install services on `rpc`; returns their counters. */
export function serveInstallRpc(rpc: RpcEndpoint, handlers: InstallRpcHandlers): InstallRpcCounters {
  const counters: InstallRpcCounters = { haveAnswered: 0, refused: 0 };
  const { store } = handlers;
  // The install services are answered on extra networks too: the lifecycle routes a member's
  // installs (and the package fetch they trigger) over its admin network (farm-rpc.ts).
  const onNetworks = { networks: true } as const;
  rpc.handle(kServiceHave, (_from, body) => {
    const { name, version } = parse(kHaveBodySchema, body, kServiceHave);
    counters.haveAnswered++;
    if (!store.has(name, version)) return { have: false };
    try {
      return { have: true, manifest: store.manifest(name, version) };
    } catch {
      // A damaged package is not offered.
      return { have: false };
    }
  }, onNetworks);
  const { apply, remove, authorize } = handlers;
  const allowed = (from: RpcCaller, service: string): void => {
    if (authorize !== undefined && !authorize(from, service)) {
      counters.refused++;
      throw new InstallError('GALAXY_INSTALL_FORBIDDEN', `node ${from.id} may not call ${service} on this node`);
    }
  };
  if (apply !== undefined) {
    rpc.handle(kServiceApply, (from, body) => {
      allowed(from, kServiceApply);
      return apply(parse(kApplyBodySchema, body, kServiceApply), from);
    }, onNetworks);
  }
  if (remove !== undefined) {
    rpc.handle(kServiceRemove, (from, body) => {
      allowed(from, kServiceRemove);
      const { name, ownedOnly } = parse(kRemoveBodySchema, body, kServiceRemove);
      return remove(name, from, ownedOnly === undefined ? {} : { ownedOnly });
    }, onNetworks);
  }
  return counters;
}
