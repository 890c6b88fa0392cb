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
