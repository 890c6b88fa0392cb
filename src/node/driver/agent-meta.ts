/**
 * Node metadata (tags) as the agent carries it: "key=value" pairs, one per line, UTF-8.
 * A text form so that any member (and an operator with tcpdump) can read it without a
 * schema; keys are restricted so the encoding needs no escaping.
 */
const kKeyPattern = /^[A-Za-z0-9_.-]{1,64}$/;

/** Encodes tags; throws a RangeError naming the bad key or value. Keys are sorted so equal tags give equal bytes. */
export function encodeMeta(tags: Readonly<Record<string, string>>, metaBytesMax: number): Uint8Array {
  const lines: string[] = [];
  for (const key of Object.keys(tags).sort()) {
    const value = tags[key]!;
    if (!kKeyPattern.test(key)) throw new RangeError(`meta key "${key}" must be 1 to 64 of A-Z a-z 0-9 _ . -`);
    if (typeof value !== 'string' || /[\n\r\0]/.test(value)) throw new RangeError(`meta value of "${key}" must be a string without newlines or NULs`);
    lines.push(`${key}=${value}`);
  }
  const bytes = new TextEncoder().encode(lines.join('\n'));
  if (bytes.length > metaBytesMax) throw new RangeError(`meta is ${bytes.length} bytes encoded, over metaBytesMax ${metaBytesMax}`);
  return bytes;
}

/** Decodes tags; lines that are not key=value are skipped (a newer member may add forms). */
export function decodeMeta(bytes: Uint8Array): Record<string, string> {
  // No prototype: a key such as "__proto__" is data here, not an accessor.
  const tags = Object.create(null) as Record<string, string>;
  if (bytes.length === 0) return tags;
  for (const line of new TextDecoder().decode(bytes).split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) tags[line.slice(0, at)] = line.slice(at + 1);
  }
  return tags;
}

/** Parses command-line pairs ["k=v", ...]; throws a RangeError on a pair without "=". */
export function parseMetaPairs(pairs: readonly string[]): Record<string, string> {
  const tags = Object.create(null) as Record<string, string>;
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new RangeError(`--meta takes key=value, got "${pair}"`);
    const key = pair.slice(0, at);
    if (Object.hasOwn(tags, key)) throw new RangeError(`--meta key "${key}" given twice`);
    tags[key] = pair.slice(at + 1);
  }
  return tags;
}
