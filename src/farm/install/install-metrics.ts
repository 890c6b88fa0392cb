import type { MetricFamily } from '../../core/util/metric-family.js';
import type { InstallResult } from './install-outcome.js';
import type { ChunkChannelCounters } from './chunk-channel.js';
import type { InstallRpcCounters } from './install-rpc.js';

/**
 * The install service's Prometheus metric families: outcomes by result, the packages
 * held, and what this node served to others. Pure, so the farm node appends them to its
 * own families without knowing the service.
 */
export interface InstallMetricsInput {
  readonly outcomes: Readonly<Record<InstallResult, number>>;
  readonly packages: number;
  readonly packageBytes: number;
  readonly rpc: InstallRpcCounters;
  readonly chunks: ChunkChannelCounters;
}

export function installMetrics(input: InstallMetricsInput): MetricFamily[] {
  return [
    {
      name: 'galaxy_install_outcomes_total',
      help: 'Component install outcomes on this node by result (unchanged ones included).',
      type: 'counter',
      samples: Object.entries(input.outcomes).map(([result, value]) => ({ labels: { result }, value })),
    },
    { name: 'galaxy_install_packages', help: 'Component packages held in this node\'s store.', type: 'gauge', samples: [{ value: input.packages }] },
    { name: 'galaxy_install_package_bytes', help: 'File bytes of the packages held.', type: 'gauge', samples: [{ value: input.packageBytes }] },
    { name: 'galaxy_install_chunks_served_total', help: 'Package chunks this node served to other members.', type: 'counter', samples: [{ value: input.chunks.chunksServed }] },
    { name: 'galaxy_install_chunk_bytes_served_total', help: 'Package bytes this node served to other members.', type: 'counter', samples: [{ value: input.chunks.chunkBytesServed }] },
    { name: 'galaxy_install_chunks_refused_busy_total', help: 'Chunk requests refused because this node served its maximum at once.', type: 'counter', samples: [{ value: input.chunks.refusedBusy }] },
    { name: 'galaxy_install_chunk_timeouts_total', help: 'Chunk requests of this node that got no answer in time.', type: 'counter', samples: [{ value: input.chunks.timeouts }] },
    { name: 'galaxy_install_requests_refused_total', help: 'install.apply and install.remove requests from members not authorized.', type: 'counter', samples: [{ value: input.rpc.refused }] },
  ];
}
