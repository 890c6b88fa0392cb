import { retransmitLimit, type MembershipConfig } from '../../core/membership/config.js';
import { suspicionMinMs } from '../../core/membership/suspicion.js';

/**
 * Probe intervals a crash may go unprobed before somebody suspects it. Each interval the
 * victim escapes every node's probe with probability about 1/e, so five intervals
 * without any probe happen less than once in 150 crashes; Lifeguard's slowed-down
 * probers are covered by the suspicion maximum, which is the larger term.
 */
const kProbeIntervalsToFirstSuspicion = 5;

/**
 * How long after a crash every live node must hold it dead, by the protocol's own
 * timers: first suspicion, then the longest suspicion timeout (Lifeguard's maximum,
 * reached when no confirmations arrive), then the dead broadcast's retransmissions.
 * A study calls a crash not detected everywhere within this bound surprising, and uses
 * the same bound for "the farm should have converged by now" after the last fault.
 */
export function swimDetectionBoundMs(config: MembershipConfig, members: number): number {
  const firstSuspicionMs = kProbeIntervalsToFirstSuspicion * config.probeIntervalMs;
  const suspicionMaxMs = config.suspicionMaxTimeoutMult * suspicionMinMs(config.suspicionMult, members, config.probeIntervalMs);
  const disseminationMs = retransmitLimit(config, members) * config.gossipIntervalMs;
  return Math.ceil(firstSuspicionMs + suspicionMaxMs + disseminationMs);
}
