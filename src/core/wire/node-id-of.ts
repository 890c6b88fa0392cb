import type { NodeId } from './message.js';

/** A stable 64-bit id from an address (FNV-1a in two lanes), so restarts keep their identity. */
export function nodeIdOf(address: string): NodeId {
  let high = 0x811c9dc5;
  let low = 0x01000193;
  for (let i = 0; i < address.length; i++) {
    const c = address.charCodeAt(i);
    high = Math.imul(high ^ c, 0x01000193) >>> 0;
    low = Math.imul(low ^ (c + 0x9e), 0x01000193) >>> 0;
  }
  return { high, low };
}
