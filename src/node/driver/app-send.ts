import type { AppMessage } from './agent-worker-protocol.js';

/** How the worker seals a messenger envelope: fresh bytes (streams keep them), or the keyring's reused buffer (datagrams, copied by the transport before send returns). Null: not sent (no key, suspended). */
export interface AppSealer {
  seal(plaintext: Uint8Array): Uint8Array | null;
  sealDatagram(plaintext: Uint8Array): Uint8Array | null;
}

/**
 * Seals and hands on one batch of the messenger's envelopes (an `app-send` request),
 * returning how many seals it made. A multicast is one plaintext for every peer in a
 * row (the messenger writes its envelope once per payload object, and structured
 * cloning keeps the one object across postMessage): it is sealed ONCE and the same
 * sealed bytes go to each peer, one AEAD operation per multicast instead of one per
 * peer. The envelope names the sender, not the receiver, so every receiver still learns
 * the authenticated sender; as before, nothing in the seal binds the receiver.
 * Consecutive messages share a seal only when they are the same object in the same
 * mode: equal bytes in distinct objects are sealed each.
 */
export function sendAppBatch(messages: readonly AppMessage[], sealer: AppSealer, send: (message: AppMessage, sealed: Uint8Array) => void): number {
  let seals = 0;
  let lastPlain: Uint8Array | null = null;
  let lastStream = false;
  let sealed: Uint8Array | null = null;
  for (const message of messages) {
    if (message.bytes !== lastPlain || message.stream !== lastStream) {
      lastPlain = message.bytes;
      lastStream = message.stream;
      sealed = message.stream ? sealer.seal(message.bytes) : sealer.sealDatagram(message.bytes);
      seals++;
    }
    if (sealed !== null) send(message, sealed);
  }
  return seals;
}
