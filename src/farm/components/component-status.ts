/** One component the node's component host runs, as the host reports it (GET /v1/components). */
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
