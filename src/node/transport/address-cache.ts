/**
 * A bounded memo of parsed peer addresses, so a busy node does not re-parse the address
 * of every datagram. When full it is emptied, which costs one re-parse per peer: simpler
 * than an LRU and just as bounded. Transports keep one per direction.
 */
export class AddressCache<V> {
  private readonly entries = new Map<string, V>();
  private readonly entriesMax: number;

  constructor(entriesMax: number) {
    this.entriesMax = entriesMax;
  }

  /** The cached value for `key`, computed by `parse` on a miss. */
  get(key: string, parse: (key: string) => V): V {
    let value = this.entries.get(key);
    if (value !== undefined || this.entries.has(key)) return value as V;
    value = parse(key);
    if (this.entries.size >= this.entriesMax) this.entries.clear();
    this.entries.set(key, value);
    return value;
  }
}
