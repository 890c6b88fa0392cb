// An in-memory ApiBackend for the API tests: a few admission records, a keyring, one
// component, values and metrics, with every mutating call recorded (to check `by`) and
// a switch to make the next call throw. The farm service provides the real backend;
// its end-to-end tests drive the API over a live agent.
import { createHash } from 'node:crypto';
import { ApiError } from '../src/ops/api/api-error.js';
import { DomainError } from '../src/core/util/domain-error.js';
import type { MemberView } from '../src/core/membership/member-view.js';
import type { ApiEvent } from '../src/core/util/api-event.js';
import type { MetricFamily } from '../src/core/util/metric-family.js';
import type { AdmissionRecord, KeyView } from '../src/farm/admission/admission-record.js';
import type { ComponentStatus } from '../src/farm/components/component-status.js';
import type { NodeValues } from '../src/farm/data/node-values.js';
import type { NodeSummary } from '../src/farm/service/node-summary.js';
import type { ApiBackend } from '../src/ops/api/api-backend.js';

export const kPendingId = '00000000000000a1';
export const kApprovedId = '00000000000000b2';
export const kKey1 = Buffer.alloc(32, 1).toString('base64');
export const kKey2 = Buffer.alloc(32, 2).toString('base64');

/** An in-memory farm: enough state to show that the API passes the right calls through. */
export class MemoryFarm implements ApiBackend {
  readonly calls: Array<{ method: string; args: unknown[] }> = [];
  failNext: Error | null = null;
  private readonly listeners = new Set<(event: ApiEvent) => void>();
  private readonly records = new Map<string, AdmissionRecord>([
    [kPendingId, { id: kPendingId, address: '127.0.0.1:7001', status: 'pending', roles: ['worker'], fingerprint: 'aaaaaaaaaaaaaaaa', requestedAt: '2025-01-01T00:00:00.000Z', decidedAt: null, decidedBy: null }],
    [kApprovedId, { id: kApprovedId, address: '127.0.0.1:7002', status: 'approved', roles: ['worker'], fingerprint: 'bbbbbbbbbbbbbbbb', requestedAt: '2025-01-01T00:00:00.000Z', decidedAt: '2025-01-01T00:01:00.000Z', decidedBy: 'admin' }],
  ]);
  private keyring: string[] = [kKey1];
  private readonly componentMap = new Map<string, ComponentStatus>([
    ['measurement', { name: 'measurement', kind: 'measurement', state: 'running', pid: 4242, restarts: 0, lastError: null, startedAt: '2025-01-01T00:00:00.000Z', config: { intervalMs: 5000 } }],
  ]);

  get listenerCount(): number {
    return this.listeners.size;
  }

  emit(event: ApiEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  node(): NodeSummary {
    this.check('node', []);
    return { id: '00000000000000ff', address: '127.0.0.1:7000', incarnation: 3, roles: ['controller'], admission: 'bootstrap', farmId: 'cccccccccccccccc', farmCa: null, transport: 'udp', backend: 'ts', version: '0.1.0', startedAt: '2025-01-01T00:00:00.000Z' };
  }

  members(): MemberView[] {
    this.check('members', []);
    return [{ id: '00000000000000ff', address: '127.0.0.1:7000', status: 'alive', incarnation: 3, self: true, tags: { role: 'controller' } }];
  }

  admissions(): AdmissionRecord[] {
    return [...this.records.values()];
  }

  async approve(id: string, roles: readonly string[] | undefined, by: string): Promise<AdmissionRecord> {
    this.check('approve', [id, roles, by]);
    return this.decide(id, 'approved', by, roles);
  }

  async reject(id: string, by: string): Promise<AdmissionRecord> {
    this.check('reject', [id, by]);
    return this.decide(id, 'rejected', by);
  }

  async revoke(id: string, by: string): Promise<AdmissionRecord> {
    this.check('revoke', [id, by]);
    const record = this.records.get(id);
    if (record?.status !== 'approved') throw new DomainError('conflict', 'GALAXY_ADMISSION_NOT_APPROVED', `node ${id} is not approved`);
    return this.set({ ...record, status: 'revoked', decidedBy: by });
  }

  keys(): KeyView[] {
    return this.keyring.map((key, i) => ({ fingerprint: fingerprintOf(key), primary: i === 0 }));
  }

  async keyOperation(op: 'install' | 'use' | 'remove', keyOrFingerprint: string, by: string): Promise<KeyView[]> {
    this.check('keyOperation', [op, keyOrFingerprint, by]);
    // use and remove may name the key by its fingerprint, as the real farm service allows.
    const key = op === 'install' ? keyOrFingerprint : (this.keyring.find((k) => fingerprintOf(k) === keyOrFingerprint) ?? keyOrFingerprint);
    if (op === 'install' && !this.keyring.includes(key)) this.keyring.push(key);
    if (op === 'use') {
      if (!this.keyring.includes(key)) throw new DomainError('conflict', 'GALAXY_KEYRING_UNKNOWN_KEY', 'install the key first');
      this.keyring = [key, ...this.keyring.filter((k) => k !== key)];
    }
    if (op === 'remove') {
      if (this.keyring[0] === key) throw new DomainError('conflict', 'GALAXY_KEYRING_PRIMARY', 'the primary key cannot be removed');
      this.keyring = this.keyring.filter((k) => k !== key);
    }
    return this.keys();
  }

  components(): ComponentStatus[] {
    return [...this.componentMap.values()];
  }

  async configureComponent(name: string, config: Readonly<Record<string, unknown>>, by: string): Promise<ComponentStatus> {
    this.check('configureComponent', [name, config, by]);
    const status = this.component(name);
    const next = { ...status, config: { ...status.config, ...config } };
    this.componentMap.set(name, next);
    return next;
  }

  async restartComponent(name: string, by: string): Promise<ComponentStatus> {
    this.check('restartComponent', [name, by]);
    const next = { ...this.component(name), restarts: this.component(name).restarts + 1 };
    this.componentMap.set(name, next);
    return next;
  }

  values(node: string | undefined): NodeValues[] {
    this.check('values', [node]);
    const rows: NodeValues[] = [{ node: '00000000000000ff', values: { cpu: 0.25, host: 'alpha' }, updatedAt: '2025-01-01T00:00:00.000Z' }];
    return rows.filter((row) => node === undefined || row.node === node);
  }

  async metrics(): Promise<MetricFamily[]> {
    this.check('metrics', []);
    return [
      { name: 'galaxy_members', help: 'Members by status.', type: 'gauge', samples: [{ labels: { status: 'alive' }, value: 1 }, { labels: { status: 'dead' }, value: 0 }] },
      { name: 'galaxy_component_info', help: 'Components, with a label that needs escaping.', type: 'gauge', samples: [{ labels: { name: 'measurement', note: 'a "quoted"\\path\nline' }, value: 1 }] },
      { name: 'galaxy_probe_rtt_seconds', help: 'Last probe round trip.', type: 'gauge', samples: [{ value: Number.NaN }] },
    ];
  }

  subscribe(listener: (event: ApiEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private check(method: string, args: unknown[]): void {
    this.calls.push({ method, args });
    const failure = this.failNext;
    this.failNext = null;
    if (failure !== null) throw failure;
  }

  private decide(id: string, status: 'approved' | 'rejected', by: string, roles?: readonly string[]): AdmissionRecord {
    const record = this.records.get(id);
    if (record === undefined) throw new DomainError('not-found', 'GALAXY_ADMISSION_UNKNOWN', `no node ${id} asked to join`);
    if (record.status !== 'pending') throw new DomainError('conflict', 'GALAXY_ADMISSION_DECIDED', `node ${id} is ${record.status}`);
    return this.set({ ...record, status, roles: roles ?? record.roles, decidedAt: '2025-01-01T00:02:00.000Z', decidedBy: by });
  }

  private set(record: AdmissionRecord): AdmissionRecord {
    this.records.set(record.id, record);
    return record;
  }

  private component(name: string): ComponentStatus {
    const status = this.componentMap.get(name);
    if (status === undefined) throw new DomainError('not-found', 'GALAXY_COMPONENT_UNKNOWN', `no component "${name}" on this node`);
    return status;
  }
}

function fingerprintOf(key: string): string {
  return createHash('sha256').update(Buffer.from(key, 'base64')).digest('hex').slice(0, 16);
}
