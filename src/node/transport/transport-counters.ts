import type { TransportErrorCode } from './transport-error.js';

/** The last failure a transport counted, for logs; `detail` names the peer and the OS error. */
export interface TransportFailure {
  readonly code: TransportErrorCode;
  readonly detail: string;
}

/**
 * What a transport moved and what it dropped, drops by stable code (transport-error.ts).
 * Every transport keeps one and the agent exports it: a dropped message is never silent.
 */
export class TransportCounters {
  sent = 0;
  bytesSent = 0;
  received = 0;
  bytesReceived = 0;
  /** Messages dropped for any reason, outbound and inbound. */
  dropped = 0;
  readonly droppedByCode = new Map<TransportErrorCode, number>();
  lastFailure: TransportFailure | null = null;

  recordSent(bytes: number): void {
    this.sent++;
    this.bytesSent += bytes;
  }

  recordReceived(bytes: number): void {
    this.received++;
    this.bytesReceived += bytes;
  }

  recordDropped(code: TransportErrorCode, detail: string): void {
    this.dropped++;
    this.droppedByCode.set(code, (this.droppedByCode.get(code) ?? 0) + 1);
    this.lastFailure = { code, detail };
  }

  /** Drops counted under `code` so far. */
  droppedOf(code: TransportErrorCode): number {
    return this.droppedByCode.get(code) ?? 0;
  }

  /** A plain object (structured-clone and JSON safe), for postMessage and logs. */
  snapshot(): TransportCountersSnapshot {
    return {
      sent: this.sent,
      bytesSent: this.bytesSent,
      received: this.received,
      bytesReceived: this.bytesReceived,
      dropped: this.dropped,
      droppedByCode: Object.fromEntries(this.droppedByCode),
      lastFailure: this.lastFailure,
    };
  }
}

export interface TransportCountersSnapshot {
  readonly sent: number;
  readonly bytesSent: number;
  readonly received: number;
  readonly bytesReceived: number;
  readonly dropped: number;
  readonly droppedByCode: Readonly<Partial<Record<TransportErrorCode, number>>>;
  readonly lastFailure: TransportFailure | null;
}
