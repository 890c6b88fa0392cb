import type { MessengerChannel } from '../../node/messenger/messenger-channel.js';
import type { AgentLogger } from '../../node/util/agent-logger.js';
import type { ControlMessage } from './farm-control.js';

/**
 * The farm control channel: the farm's own decisions (admission decisions, revocations,
 * keyring rotation steps) broadcast over the messenger's `farm-control` channel. The
 * messenger seals them like all farm traffic, spreads them by gossip and names the
 * authenticated sender; the channel's codec (kControlCodec) refuses what does not fit
 * the schema before any handler sees it, and the messenger counts those refusals under
 * the channel (`decode`).
 *
 * What this adds to the bare channel: a farm run without encryption (--insecure) never
 * sends keyring steps (it has no keyring), a message that cannot be sent (too large) is
 * logged and counted rather than thrown into the protocol that made it, and received
 * messages go to one handler with their sender.
 */
export interface ControlChannelCounters {
  sent: number;
  /** Keyring steps not sent because the farm runs without encryption. */
  skippedInsecure: number;
  /** Messages the messenger would not take (encode or size). */
  failed: number;
  received: number;
}

export class FarmControlChannel {
  readonly counters: ControlChannelCounters = { sent: 0, skippedInsecure: 0, failed: 0, received: 0 };

  constructor(
    private readonly channel: MessengerChannel<ControlMessage>,
    private readonly insecure: boolean,
    private readonly logger: AgentLogger,
  ) {}

  /** Spreads a control message to every member; never throws. */
  broadcast(message: ControlMessage): void {
    if (this.insecure && message.op.startsWith('key')) {
      this.counters.skippedInsecure++;
      return;
    }
    try {
      this.channel.broadcast(message);
      this.counters.sent++;
    } catch (error) {
      this.counters.failed++;
      this.logger.error({ op: message.op, error: (error as Error).message }, 'farm control message not sent');
    }
  }

  /** Sets the one handler of control messages that arrive (already decoded and checked). */
  onMessage(handler: (message: ControlMessage, from: string) => void): void {
    this.channel.onMessage((delivered) => {
      this.counters.received++;
      handler(delivered.value, delivered.from);
    });
  }
}
