/**
 * An event a node publishes: membership, admission, keyring, component, install and
 * cluster events alike. The farm and cluster services emit them as plain data; the
 * API's WebSocket stream (GET /v1/events) carries them to operators, hence the name,
 * which the package's client entry point exports.
 */
export interface ApiEvent {
  /** 'membership' | 'admission' | 'keyring' | 'component' | ... */
  readonly kind: string;
  /** e.g. 'join', 'dead', 'approved', 'crashed', 'restarted' */
  readonly type: string;
  readonly time: string;
  readonly body: Readonly<Record<string, unknown>>;
}
