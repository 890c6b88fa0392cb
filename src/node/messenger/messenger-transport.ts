import type { AppMessage } from '../driver/agent-worker-protocol.js';

/**
 * What the messenger needs from below: AgentHost in the agent (the worker seals and
 * sends), or anything that carries sealed bytes between nodes by address.
 */
export interface MessengerTransport {
  /**
   * Sends application messages, sealed under the farm key, in one batch. `owned`: the
   * messages' bytes belong to this batch alone (the messenger's own envelopes, never
   * read again by it), so a transport that crosses threads may transfer their buffers
   * instead of copying them.
   */
  sendApp(messages: readonly AppMessage[], owned?: boolean): void;
  /** Hands a payload to the membership engine's epidemic user broadcasts (sealed like all gossip). */
  broadcast(payload: Uint8Array): void;
}
