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
