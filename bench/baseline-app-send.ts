import type { AppMessage } from '../src/node/driver/agent-worker-protocol.js';

/**
 * The agent worker's app-send loop before session 9, kept so that bench:multicast-send
 * compares the one-seal path (src/node/driver/app-send.ts) with it in one run: every
 * message sealed on its own with Keyring.seal (node:crypto, a cipher per message), even
 * when the same plaintext goes to every peer of a multicast. Do not use it in the agent.
 * Returns the seals made.
 */
export function baselineSendApp(messages: readonly AppMessage[], seal: (plaintext: Uint8Array) => Uint8Array | null, send: (message: AppMessage, sealed: Uint8Array) => void): number {
  let seals = 0;
  for (const message of messages) {
    const sealed = seal(message.bytes);
    seals++;
    if (sealed === null) continue;
    send(message, sealed);
  }
  return seals;
}
