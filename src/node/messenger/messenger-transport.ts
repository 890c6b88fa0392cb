import type { AppMessage } from '../driver/agent-worker-protocol.js';

/**
 * What the messenger needs from below: AgentHost in the agent (the worker seals and
 * sends), or anything that carries sealed bytes between nodes by address.
 */
export interface MessengerTransport {
  /** Sends application messages, sealed under the farm key, in one batch. */
  sendApp(messages: readonly AppMessage[]): void;
  /** Hands a payload to the membership engine's epidemic user broadcasts (sealed like all gossip). */
  broadcast(payload: Uint8Array): void;
}
