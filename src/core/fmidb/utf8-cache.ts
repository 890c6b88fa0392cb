const encoder = new TextEncoder();

/**
 * UTF-8 bytes of the strings the encoder sends again and again (keys, node ids), kept
 * in a bounded map that is simply cleared when full: the working set (a few dozen keys
 * and the ids of recent origins) refills it at once.
 */
export class Utf8Cache {
  private readonly entriesMax: number;
  private readonly map = new Map<string, Uint8Array>();

  constructor(entriesMax: number) {
    this.entriesMax = entriesMax;
  }

  bytes(text: string): Uint8Array {
    let b = this.map.get(text);
    if (b === undefined) {
      if (this.map.size >= this.entriesMax) this.map.clear();
      b = encoder.encode(text);
      this.map.set(text, b);
    }
    return b;
  }
}

/** UTF-8 length of a string without encoding it. */
export function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}
