/** The port every simulated node listens on (memberlist's default). */
export const kSimPort = 7946;

/**
 * The address of the node added index-th (from 0): 10.x.y.z:7946 with z in 1..254, so
 * no address looks like a network or broadcast address. Pure, so tests can predict it.
 */
export function nodeAddress(index: number): string {
  const block = Math.floor(index / 254);
  return `10.${block >>> 8}.${block & 255}.${(index % 254) + 1}:${kSimPort}`;
}
