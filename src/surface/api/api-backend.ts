/**
 * What the HTTP API serves, as the farm service provides it. The API server (src/ops/api/)
 * owns HTTP, WebSocket, authentication, validation, limits and the Prometheus text
 * format; the farm service (src/farm/) implements this interface over the real agent.
 * A method fails with a DomainError (src/core/util/domain-error.ts) whose kind the API
 * server turns into an HTTP status; any other error is an internal error (500).
 */

/** Roles of API tokens, least to most powerful. */
export type ApiRole = 'viewer' | 'operator' | 'admin';


/** This node, as GET /v1/node shows it. */
export interface NodeSummary {
  readonly id: string;
  readonly address: string;
  readonly incarnation: number;
  readonly roles: readonly string[];
  /** 'approved' once the node holds farm credentials; 'pending' or 'rejected' while it waits or after refusal; 'revoked'. */
  readonly admission: 'approved' | 'pending' | 'rejected' | 'revoked' | 'bootstrap';
  readonly farmId: string | null;
  /** The farm authority's fingerprint (what a new node pins with --farm-ca) on a controller, which holds the authority; null elsewhere. */
  readonly farmCa: string | null;
  readonly transport: string;
  readonly backend: string;
  readonly version: string;
  readonly startedAt: string;
}

/** One member of the farm as this node sees it. */
export interface MemberView {
  readonly id: string;
  readonly address: string;
  readonly status: 'alive' | 'suspect' | 'dead' | 'left';
  readonly incarnation: number;
  readonly self: boolean;
  readonly tags: Readonly<Record<string, string>>;
}

/** A node known to the farm controller: waiting, approved, rejected or revoked. */
export interface AdmissionRecord {
  readonly id: string;
  readonly address: string;
  readonly status: 'pending' | 'approved' | 'rejected' | 'revoked';
  readonly roles: readonly string[];
  /** Fingerprint of the node's Ed25519 public key (16 hex digits), for the operator to compare. */
  readonly fingerprint: string;
  readonly requestedAt: string;
  readonly decidedAt: string | null;
  readonly decidedBy: string | null;
}

/** One key of the farm keyring; the key material itself is never shown. */
export interface KeyView {
  /** First 16 hex digits of SHA-256 of the key. */
  readonly fingerprint: string;
  readonly primary: boolean;
}

export interface ComponentStatus {
  readonly name: string;
  readonly kind: string;
  readonly state: 'starting' | 'running' | 'stopping' | 'stopped' | 'crashed' | 'backoff' | 'failed';
  readonly pid: number | null;
  readonly restarts: number;
  readonly lastError: string | null;
  readonly startedAt: string | null;
  readonly config: Readonly<Record<string, unknown>>;
}

/** Dynamic values a component posted for a node (the per-node table the FMIDB replicates). */
export interface NodeValues {
  readonly node: string;
  readonly values: Readonly<Record<string, number | string>>;
  readonly updatedAt: string | null;
}

/** A Prometheus metric family; the API formats it as text exposition format 0.0.4. */
export interface MetricFamily {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge';
  readonly samples: ReadonlyArray<{ readonly labels?: Readonly<Record<string, string>>; readonly value: number }>;
}

/** What the WebSocket stream carries: membership, admission, keyring and component events. */
export interface ApiEvent {
  /** 'membership' | 'admission' | 'keyring' | 'component' | ... */
  readonly kind: string;
  /** e.g. 'join', 'dead', 'approved', 'crashed', 'restarted' */
  readonly type: string;
  readonly time: string;
  readonly body: Readonly<Record<string, unknown>>;
}

export interface ApiBackend {
  node(): NodeSummary;
  members(): MemberView[];
  /** Admission records known to this node (a controller knows them all; others return []). */
  admissions(): AdmissionRecord[];
  approve(id: string, roles: readonly string[] | undefined, by: string): Promise<AdmissionRecord>;
  reject(id: string, by: string): Promise<AdmissionRecord>;
  revoke(id: string, by: string): Promise<AdmissionRecord>;
  keys(): KeyView[];
  /** install | use | remove, applied across the live farm; resolves with the local keyring after. */
  keyOperation(op: 'install' | 'use' | 'remove', key: string, by: string): Promise<KeyView[]>;
  components(): ComponentStatus[];
  configureComponent(name: string, config: Readonly<Record<string, unknown>>, by: string): Promise<ComponentStatus>;
  restartComponent(name: string, by: string): Promise<ComponentStatus>;
  /** Values posted by components, for one node or all nodes this node knows. */
  values(node: string | undefined): NodeValues[];
  metrics(): Promise<MetricFamily[]>;
  /** Subscribes to events; returns the unsubscribe function. */
  subscribe(listener: (event: ApiEvent) => void): () => void;
}
