import type { AgentStats } from '../../node/driver/agent-worker-protocol.js';
import type { MemberView } from '../../core/membership/member-view.js';
import type { MetricFamily } from '../../core/util/metric-family.js';
import type { ComponentStatus } from '../components/component-status.js';
import type { FarmCounters } from './farm-service.js';
import type { Messenger } from '../../node/messenger/messenger.js';

/**
 * The farm node's Prometheus metric families, built from one snapshot of the agent
 * worker's counters, the member list, the admission and keyring state, and the
 * components. Pure, so the mapping is tested without a running agent.
 */
export interface FarmMetricsInput {
  readonly stats: AgentStats;
  readonly members: readonly MemberView[];
  readonly farm: FarmCounters;
  readonly authority: Readonly<Record<string, number>> | null;
  readonly keyringKeys: number;
  readonly keyEpoch: number;
  readonly components: readonly ComponentStatus[];
  /** The messenger's counters per channel (Messenger.snapshot), when it runs. */
  readonly messenger?: ReturnType<Messenger['snapshot']>;
}

export function farmMetrics(input: FarmMetricsInput): MetricFamily[] {
  const { stats } = input;
  const engine = stats.engine;
  const byState: Record<string, number> = { alive: 0, suspect: 0, dead: 0, left: 0 };
  for (const member of input.members) byState[member.status] = (byState[member.status] ?? 0) + 1;
  const keyring = stats.keyring ?? {};
  const families: MetricFamily[] = [
    gauge('galaxy_members', 'Members in this node\'s table by state (dead and left until reaped).', Object.entries(byState).map(([state, value]) => ({ labels: { state }, value }))),
    counter('galaxy_suspicions_total', 'Suspicions this node raised.', engine['suspicionsRaised'] ?? 0),
    counter('galaxy_suspicion_confirmations_total', 'Independent confirmations of suspicions already held.', engine['suspicionConfirmations'] ?? 0),
    counter('galaxy_refutations_total', 'Suspicions of this node that it refuted.', engine['refutations'] ?? 0),
    counter('galaxy_deaths_declared_total', 'Members this node declared dead.', engine['deathsDeclared'] ?? 0),
    counter('galaxy_probes_total', 'Failure-detector probes sent.', engine['probes'] ?? 0),
    counter('galaxy_probes_failed_total', 'Probes that got no ack in time.', engine['probesFailed'] ?? 0),
    counter('galaxy_unreachable_reports_total', 'ICMP unreachable reports taken by the failure detector.', engine['unreachableReports'] ?? 0),
    directional('galaxy_datagrams_total', 'UDP datagrams by direction (transport level, sealed).', stats.datagram.received, stats.datagram.sent),
    directional('galaxy_datagram_bytes_total', 'UDP bytes by direction (transport level, sealed).', stats.datagram.bytesReceived, stats.datagram.bytesSent),
    directional('galaxy_stream_frames_total', 'TCP stream frames by direction.', stats.stream.received, stats.stream.sent),
    directional('galaxy_stream_bytes_total', 'TCP stream bytes by direction.', stats.stream.bytesReceived, stats.stream.bytesSent),
    counter('galaxy_datagrams_dropped_total', 'Datagrams the transport dropped (send failures, oversize).', stats.datagram.dropped),
    {
      name: 'galaxy_transport_dropped_total',
      help: 'What each transport dropped or refused, by stable code (transport-error.ts): oversized or truncated stream frames, connections over the limit, send failures.',
      type: 'counter',
      samples: [
        ...Object.entries(stats.datagram.droppedByCode).map(([code, value]) => ({ labels: { transport: 'datagram', code }, value: value ?? 0 })),
        ...Object.entries(stats.stream.droppedByCode).map(([code, value]) => ({ labels: { transport: 'stream', code }, value: value ?? 0 })),
      ],
    },
    counter('galaxy_stream_idle_closes_total', 'TCP connections closed for staying silent past idleTimeoutMs (slow or idle peers).', stats.stream.idleCloses),
    {
      name: 'galaxy_auth_failures_total',
      help: 'Messages refused before any parser saw them: no farm key authenticates them, malformed envelopes, or traffic while this node holds no key.',
      type: 'counter',
      samples: [
        { labels: { reason: 'authentication' }, value: keyring['authenticationFailed'] ?? 0 },
        { labels: { reason: 'malformed' }, value: keyring['malformed'] ?? 0 },
        { labels: { reason: 'unkeyed' }, value: stats.unauthenticatedDropped },
      ],
    },
    counter('galaxy_wire_rejected_total', 'Authenticated datagrams the wire codec refused.', Object.values(stats.wireRejectedByCode).reduce((a, b) => a + b, 0)),
    counter('galaxy_admission_datagrams_total', 'Admission datagrams handed to the admission handler.', stats.admissionReceived),
    counter('galaxy_admission_dropped_total', 'Admission datagrams dropped by the rate limit.', stats.admissionDropped),
    counter('galaxy_admission_invalid_total', 'Admission messages malformed, unexpected or with a bad grant.', input.farm.admissionInvalid),
    counter('galaxy_admission_bad_signatures_total', 'Admission requests whose signature did not verify.', input.farm.admissionBadSignature),
    gauge('galaxy_keyring_keys', 'Keys in this node\'s farm keyring.', [{ value: input.keyringKeys }]),
    gauge('galaxy_keyring_epoch', 'Epoch of the keyring this node holds.', [{ value: input.keyEpoch }]),
    gauge('galaxy_health_score', 'Lifeguard local health (0 is healthy).', [{ value: stats.health }]),
    // Prometheus names carry base units: seconds, not the milliseconds the worker measures in.
    gauge('galaxy_event_loop_lag_seconds_max', 'Largest event-loop lag of the agent worker since the last scrape, seconds.', [{ value: stats.eventLoopLagMsMax / 1000 }]),
    {
      name: 'galaxy_component_restarts_total',
      help: 'Restarts of each farm service component after a crash.',
      type: 'counter',
      samples: input.components.map((c) => ({ labels: { component: c.name }, value: c.restarts })),
    },
    {
      name: 'galaxy_component_up',
      help: 'Whether each component is running (1) or not (0).',
      type: 'gauge',
      samples: input.components.map((c) => ({ labels: { component: c.name }, value: c.state === 'running' ? 1 : 0 })),
    },
  ];
  if (input.messenger !== undefined) families.push(...messengerFamilies(input.messenger));
  if (input.authority !== null) {
    families.push(gauge('galaxy_admission_pending', 'Nodes waiting for an administrator\'s decision.', [{ value: input.authority['pending'] ?? 0 }]));
    families.push(counter('galaxy_admission_requests_total', 'Admission requests this controller answered.', input.authority['requests'] ?? 0));
  }
  return families;
}

/** The messenger's families: messages by channel and direction, drops by channel and reason. */
function messengerFamilies(snapshot: NonNullable<FarmMetricsInput['messenger']>): MetricFamily[] {
  const channels = Object.entries(snapshot);
  return [
    {
      name: 'galaxy_messenger_messages_total',
      help: 'Messages of each messenger channel, sent (out) and delivered to the channel (in).',
      type: 'counter',
      samples: channels.flatMap(([channel, c]) => [
        { labels: { channel, direction: 'in' }, value: c.received },
        { labels: { channel, direction: 'out' }, value: c.sent },
      ]),
    },
    {
      name: 'galaxy_messenger_dropped_total',
      help: 'Messages a messenger channel dropped, by reason: unknown, revoked or self-claimed senders, a datagram from another address than the member\'s, malformed envelopes, bytes the codec refused, no route, a full outbox.',
      type: 'counter',
      samples: channels.flatMap(([channel, c]) => Object.entries(c.dropped).map(([reason, value]) => ({ labels: { channel, reason }, value }))),
    },
  ];
}

/** A counter with an in and an out sample. */
function directional(name: string, help: string, inValue: number, outValue: number): MetricFamily {
  return { name, help, type: 'counter', samples: [{ labels: { direction: 'in' }, value: inValue }, { labels: { direction: 'out' }, value: outValue }] };
}

function counter(name: string, help: string, value: number): MetricFamily {
  return { name, help, type: 'counter', samples: [{ value }] };
}

function gauge(name: string, help: string, samples: MetricFamily['samples']): MetricFamily {
  return { name, help, type: 'gauge', samples };
}
