// Proves that the farm node's /metrics families carry what the transports dropped, by
// transport and stable code (an oversized or truncated stream frame, a connection over
// the limit, a failed send), and the stream connections closed for idling: the fault
// suite's hostile peers are counted where an operator looks; the messenger's messages
// and drops per channel and reason. Also that every family is named by Prometheus
// conventions, in base units (the event-loop lag in seconds, not ms; counters end in
// _total); the naming check is shown to catch a family named in ms. farmMetrics is
// pure, so a hand-made snapshot of the agent's counters is enough.
import { describe, expect, it } from 'vitest';
import type { AgentStats } from '../src/node/driver/agent-worker-protocol.js';
import { farmMetrics } from '../src/farm/service/farm-metrics.js';
import { formatPrometheus } from '../src/ops/api/prometheus.js';

const transport = {
  sent: 10,
  bytesSent: 1000,
  received: 12,
  bytesReceived: 1200,
  dropped: 0,
  droppedByCode: {},
  lastFailure: null,
};

function stats(overrides: Partial<AgentStats>): AgentStats {
  return {
    engine: {},
    wireRejectedByCode: {},
    datagram: transport,
    stream: { ...transport, connectionsAccepted: 0, connectionsOpened: 0, idleCloses: 0 },
    aliveCount: 1,
    incarnation: 1,
    health: 0,
    eventLoopLagMsMax: 0,
    keyring: null,
    unauthenticatedDropped: 0,
    admissionReceived: 0,
    admissionDropped: 0,
    suspended: false,
    appReceived: 0,
    appDropped: 0,
    appSent: 0,
    appSealed: 0,
    stack: { forgedDropped: 0, revokedDropped: 0, unknownChannelDropped: 0, malformedDropped: 0, noRouteDropped: 0, jobFramesSent: 0, jobTooLargeDropped: 0, jobStartsUnopened: 0 },
    networks: [],
    jobs: null,
    ...overrides,
  };
}

/** Why a family name breaks Prometheus conventions (base units, _total on counters), or null. */
function namingProblem(family: { readonly name: string; readonly type: string }): string | null {
  if (!/^galaxy_[a-z0-9_]+$/.test(family.name)) return 'not galaxy_ then snake case';
  const words = family.name.split('_');
  const nonBase = words.find((word) => ['ms', 'millis', 'milliseconds', 'us', 'ns', 'minutes', 'hours', 'kb', 'mb', 'gb', 'kib', 'mib', 'gib', 'percent'].includes(word));
  if (nonBase !== undefined) return `unit "${nonBase}" is not a base unit (seconds, bytes, ratios)`;
  if (family.type === 'counter' && !family.name.endsWith('_total')) return 'a counter must end in _total';
  return null;
}

const input = (agent: AgentStats) => ({ stats: agent, members: [], farm: { admissionInvalid: 0, admissionBadSignature: 0, keyRotations: 0 }, authority: null, keyringKeys: 0, keyEpoch: 0, components: [] });

describe('farm metrics', () => {
  it('export drops by transport and code, and idle closes', () => {
    const agent = stats({
      datagram: { ...transport, dropped: 2, droppedByCode: { GALAXY_TRANSPORT_UNREACHABLE: 2 } },
      stream: { ...transport, dropped: 7, droppedByCode: { GALAXY_TRANSPORT_FRAME_TOO_LARGE: 3, GALAXY_TRANSPORT_FRAME_TRUNCATED: 4 }, connectionsAccepted: 9, connectionsOpened: 1, idleCloses: 5 },
    });
    const families = farmMetrics(input(agent));
    const dropped = families.find((f) => f.name === 'galaxy_transport_dropped_total')!;
    expect(dropped.type).toBe('counter');
    expect(dropped.samples).toEqual([
      { labels: { transport: 'datagram', code: 'GALAXY_TRANSPORT_UNREACHABLE' }, value: 2 },
      { labels: { transport: 'stream', code: 'GALAXY_TRANSPORT_FRAME_TOO_LARGE' }, value: 3 },
      { labels: { transport: 'stream', code: 'GALAXY_TRANSPORT_FRAME_TRUNCATED' }, value: 4 },
    ]);
    expect(families.find((f) => f.name === 'galaxy_stream_idle_closes_total')!.samples).toEqual([{ value: 5 }]);
    const text = formatPrometheus(families);
    expect(text).toContain('galaxy_transport_dropped_total{code="GALAXY_TRANSPORT_FRAME_TOO_LARGE",transport="stream"} 3');
    expect(text).toContain('galaxy_stream_idle_closes_total 5');
  });

  it('export the messenger per channel: messages by direction, drops by reason', () => {
    const messenger = { fmidb: { sent: 4, received: 3, dropped: { 'unknown-sender': 2, 'address-mismatch': 1 } }, rpc: { sent: 1, received: 0, dropped: {} } };
    const families = farmMetrics({ ...input(stats({})), messenger });
    expect(families.find((f) => f.name === 'galaxy_messenger_messages_total')!.samples).toEqual([
      { labels: { channel: 'fmidb', direction: 'in' }, value: 3 },
      { labels: { channel: 'fmidb', direction: 'out' }, value: 4 },
      { labels: { channel: 'rpc', direction: 'in' }, value: 0 },
      { labels: { channel: 'rpc', direction: 'out' }, value: 1 },
    ]);
    const text = formatPrometheus(families);
    expect(text).toContain('galaxy_messenger_dropped_total{channel="fmidb",reason="unknown-sender"} 2');
    expect(text).toContain('galaxy_messenger_dropped_total{channel="fmidb",reason="address-mismatch"} 1');
  });

  it('keep the family when nothing was dropped, with no samples', () => {
    const families = farmMetrics(input(stats({})));
    expect(families.find((f) => f.name === 'galaxy_transport_dropped_total')!.samples).toEqual([]);
    expect(families.find((f) => f.name === 'galaxy_stream_idle_closes_total')!.samples).toEqual([{ value: 0 }]);
  });

  it('name every family in base units, the event-loop lag in seconds', () => {
    const families = farmMetrics(input(stats({ eventLoopLagMsMax: 250 })));
    expect(families.map((f) => [f.name, namingProblem(f)]).filter(([, problem]) => problem !== null)).toEqual([]);
    expect(families.find((f) => f.name === 'galaxy_event_loop_lag_seconds_max')!.samples).toEqual([{ value: 0.25 }]);
    expect(namingProblem({ name: 'galaxy_event_loop_lag_ms_max', type: 'gauge' })).toMatch(/base unit/);
    expect(namingProblem({ name: 'galaxy_probes', type: 'counter' })).toMatch(/_total/);
  });
});
