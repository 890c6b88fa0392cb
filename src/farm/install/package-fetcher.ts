import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { Route } from '../../node/messenger/messenger-channel.js';
import type { FarmPeer, NetworkRoute, RpcEndpoint } from './farm-peer.js';
import { errorSummary, InstallError } from './install-error.js';
import type { ChunkChannel } from './chunk-channel.js';
import { kHaveAnswerSchema, kServiceHave } from './install-rpc.js';
import { boundsProblem } from './package-bounds.js';
import { kChunkBytesMax } from './package-limits.js';
import { checkPackageManifest, packageBytes, packageId, type PackageFile, type PackageManifest } from './package-manifest.js';
import type { PackageStore, Staging } from './package-store.js';

/**
 * Gets a package this node lacks from the farm's other nodes, over the farm's own
 * channels only (FarmRpc and the chunk channel, sealed like all farm traffic): there is
 * no code path that downloads a package from a URL.
 *
 * It asks up to peersAskedMax members whether they hold name@version (install.have),
 * keeps those whose manifest is valid, names that package, and has the pinned checksum
 * (or, with no pin, agrees on one checksum: peers that disagree are refused rather
 * than guessed between). Then, file by file, it pulls chunks from one of them; a chunk
 * that does not arrive (after chunkAttemptsMax tries while the holder is busy or
 * silent), arrives short, or a file whose sha256 does not match moves the file to the
 * next holder. The package store verifies every file and the checksum once
 * more before it takes the package.
 *
 * Chunks of a file are fetched one after another: the hash is computed as they arrive,
 * and one chunk in flight per install keeps a rollout from flooding a holder. A farm
 * rollout spreads the load because each node starts with a different holder.
 */
export interface PackageFetcherOptions {
  readonly rpc: RpcEndpoint;
  readonly chunks: Pick<ChunkChannel, 'request'>;
  readonly store: PackageStore;
  /** The members to ask (alive, not this node). */
  readonly peers: () => readonly FarmPeer[];
  /** Members' addresses on an extra network, for a fetch over one (FetchRequest.network); without it such a fetch finds no holder. */
  readonly route?: NetworkRoute;
  /** How long a peer may take to say whether it holds a package, ms. */
  readonly haveTimeoutMs?: number;
  /** How long a peer may take to answer one chunk, ms. */
  readonly chunkTimeoutMs?: number;
  /** Peers asked at most per fetch. */
  readonly peersAskedMax?: number;
  /** Bytes per chunk request (at most kChunkBytesMax). */
  readonly chunkBytes?: number;
  /** Tries of one chunk at one holder that is busy or silent, before the next holder. */
  readonly chunkAttemptsMax?: number;
  /** Chooses where in the list of holders to start, in [0, 1); Math.random by default. */
  readonly random?: () => number;
}

export interface FetchRequest {
  readonly name: string;
  readonly version: string;
  /** When given, only a package with this checksum is accepted. */
  readonly checksum?: string;
  /**
   * When given, the fetch stays on this extra network (issue 19: an install the lifecycle
   * routed over a member's admin network): only members publishing an address there are
   * asked, and every install.have and chunk goes to that address; none: GALAXY_INSTALL_NOT_FOUND.
   */
  readonly network?: string;
}

export interface FetchProgress {
  readonly bytesDone: number;
  readonly bytesTotal: number;
  /** Node id of the holder being read. */
  readonly peer: string;
}

export interface FetchResult {
  readonly manifest: PackageManifest;
  /** Node ids the files came from, each once; empty when this node held the package already. */
  readonly sources: readonly string[];
}

export const kFetcherDefaults = Object.freeze({
  haveTimeoutMs: 5_000,
  chunkTimeoutMs: 30_000,
  peersAskedMax: 32,
  chunkBytes: kChunkBytesMax,
  chunkAttemptsMax: 3,
});

/** Pause before asking a busy or silent holder again, ms (times the attempt number). */
const kChunkRetryDelayMs = 100;

/** Failures named in a GALAXY_INSTALL_FETCH_FAILED message at most. */
const kFailuresNamedMax = 4;

interface Holder {
  readonly peer: FarmPeer;
  readonly manifest: PackageManifest;
  /** Where this holder is asked (a fetch over an extra network); undefined: its farm address. */
  readonly route: Route | undefined;
}

export class PackageFetcher {
  private readonly settings: Required<Omit<PackageFetcherOptions, 'rpc' | 'chunks' | 'store' | 'peers' | 'random' | 'route'>>;
  private readonly random: () => number;

  constructor(private readonly options: PackageFetcherOptions) {
    this.settings = {
      haveTimeoutMs: options.haveTimeoutMs ?? kFetcherDefaults.haveTimeoutMs,
      chunkTimeoutMs: options.chunkTimeoutMs ?? kFetcherDefaults.chunkTimeoutMs,
      peersAskedMax: options.peersAskedMax ?? kFetcherDefaults.peersAskedMax,
      chunkBytes: options.chunkBytes ?? kFetcherDefaults.chunkBytes,
      chunkAttemptsMax: options.chunkAttemptsMax ?? kFetcherDefaults.chunkAttemptsMax,
    };
    for (const [key, value] of Object.entries(this.settings)) {
      if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`options.${key} must be a positive integer`);
    }
    if (this.settings.chunkBytes > kChunkBytesMax) throw new RangeError(`options.chunkBytes must be at most ${kChunkBytesMax}`);
    this.random = options.random ?? Math.random;
  }

  /** The package, from the store when held (checksum checked), else from the farm. */
  async fetch(request: FetchRequest, onProgress: (progress: FetchProgress) => void = () => {}): Promise<FetchResult> {
    const { store } = this.options;
    const id = packageId(request.name, request.version);
    if (store.has(request.name, request.version)) {
      const manifest = store.manifest(request.name, request.version);
      if (request.checksum !== undefined && manifest.checksum !== request.checksum) {
        throw new InstallError('GALAXY_PACKAGE_CONFLICT', `this node holds ${id} with checksum ${manifest.checksum}, not the ${request.checksum} asked for`);
      }
      return { manifest, sources: [] };
    }
    const holders = await this.findHolders(request);
    const manifest = holders[0]!.manifest;
    const problem = boundsProblem(manifest.files, store.bounds);
    if (problem !== null) throw new InstallError('GALAXY_PACKAGE_TOO_LARGE', `${id}: ${problem}`);
    const staging = await store.createStaging();
    try {
      const progress = { bytesDone: 0, bytesTotal: packageBytes(manifest) };
      const start = Math.floor(this.random() * holders.length) % holders.length;
      const sources = new Set<string>();
      for (const file of manifest.files) sources.add(await this.fetchFile(request, file, holders, start, staging, progress, onProgress));
      return { manifest: await store.commit(staging, manifest), sources: [...sources] };
    } catch (error) {
      await staging.discard();
      throw error;
    }
  }

  /** Members holding the package, all with the same checksum. */
  private async findHolders(request: FetchRequest): Promise<Holder[]> {
    const id = packageId(request.name, request.version);
    const { network } = request;
    const candidates = this.options.peers().map((peer) => ({ peer, route: network === undefined ? undefined : (this.options.route?.(peer.id, network) ?? null) }));
    const asked = candidates.filter((c): c is { peer: FarmPeer; route: Route | undefined } => c.route !== null).slice(0, this.settings.peersAskedMax);
    const answers = await Promise.all(asked.map(({ peer, route }) => this.askHave(peer, request, route)));
    const holders = answers.filter((h): h is Holder => h !== null && (request.checksum === undefined || h.manifest.checksum === request.checksum));
    if (holders.length === 0) {
      const pin = request.checksum === undefined ? '' : ` with checksum ${request.checksum}`;
      const on = network === undefined ? '' : ` on network ${network}`;
      throw new InstallError('GALAXY_INSTALL_NOT_FOUND', `none of the ${asked.length} members asked${on} holds ${id}${pin}`);
    }
    const checksums = new Set(holders.map((h) => h.manifest.checksum));
    if (checksums.size > 1) {
      throw new InstallError('GALAXY_INSTALL_AMBIGUOUS', `members hold different packages named ${id} (checksums ${[...checksums].join(', ')}); pin one with a checksum`);
    }
    return holders;
  }

  /** A holder, or null when the peer does not hold it, fails to answer, or answers something invalid. */
  private async askHave(peer: FarmPeer, request: FetchRequest, route: Route | undefined): Promise<Holder | null> {
    try {
      const answer = kHaveAnswerSchema.parse(await this.options.rpc.call(peer.id, kServiceHave, { name: request.name, version: request.version }, this.settings.haveTimeoutMs, route));
      if (!answer.have) return null;
      const manifest = checkPackageManifest(answer.manifest, `${packageId(request.name, request.version)} from ${peer.id}`);
      if (manifest.name !== request.name || manifest.version !== request.version) return null;
      return { peer, manifest, route };
    } catch {
      return null;
    }
  }

  /** Fetches one file, trying each holder once from `start`; returns the node id it came from. */
  private async fetchFile(request: FetchRequest, file: PackageFile, holders: readonly Holder[], start: number, staging: Staging, progress: { bytesDone: number; bytesTotal: number }, onProgress: (p: FetchProgress) => void): Promise<string> {
    const path = await staging.file(file.path);
    const failures: string[] = [];
    const doneBefore = progress.bytesDone;
    for (let i = 0; i < holders.length; i++) {
      const { peer, route } = holders[(start + i) % holders.length]!;
      try {
        await this.fetchFrom(peer, route, request, file, path, (bytes) => {
          progress.bytesDone = doneBefore + bytes;
          onProgress({ ...progress, peer: peer.id });
        });
        return peer.id;
      } catch (error) {
        progress.bytesDone = doneBefore;
        failures.push(`${peer.id}: ${errorSummary(error).message}`);
      }
    }
    const shown = failures.slice(0, kFailuresNamedMax).join('; ');
    throw new InstallError('GALAXY_INSTALL_FETCH_FAILED', `"${file.path}" of ${packageId(request.name, request.version)} could not be fetched from any of ${holders.length} holders: ${shown}${failures.length > kFailuresNamedMax ? '; …' : ''}`);
  }

  /** One chunk from one holder, asked again while the holder is busy or silent. */
  private async chunk(peer: FarmPeer, route: Route | undefined, body: { name: string; version: string; path: string; offset: number; length: number }): Promise<Buffer> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.options.chunks.request(peer.id, body, this.settings.chunkTimeoutMs, route);
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        const transient = code === 'GALAXY_INSTALL_BUSY' || code === 'GALAXY_INSTALL_TIMEOUT';
        if (!transient || attempt >= this.settings.chunkAttemptsMax) throw error;
        await new Promise((resolve) => setTimeout(resolve, kChunkRetryDelayMs * attempt));
      }
    }
  }

  private async fetchFrom(peer: FarmPeer, route: Route | undefined, request: FetchRequest, file: PackageFile, path: string, onBytes: (bytes: number) => void): Promise<void> {
    const hash = createHash('sha256');
    const out = await open(path, 'w', 0o644);
    try {
      for (let offset = 0; offset < file.bytes; ) {
        const length = Math.min(this.settings.chunkBytes, file.bytes - offset);
        const bytes = await this.chunk(peer, route, { name: request.name, version: request.version, path: file.path, offset, length });
        if (bytes.length !== length) throw new InstallError('GALAXY_PACKAGE_FILE_MISMATCH', `a chunk of ${bytes.length} bytes where ${length} were asked for`);
        hash.update(bytes);
        await out.write(bytes, 0, length, offset);
        offset += length;
        onBytes(offset);
      }
      await out.truncate(file.bytes);
    } finally {
      await out.close();
    }
    if (hash.digest('hex') !== file.sha256) throw new InstallError('GALAXY_PACKAGE_FILE_MISMATCH', `"${file.path}" does not match its sha256`);
  }
}
