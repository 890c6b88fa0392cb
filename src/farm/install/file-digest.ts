import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

/** Bytes read per call while hashing: large enough for throughput, small enough not to pin memory. */
const kReadBytes = 1024 * 1024;

export interface FileDigest {
  readonly sha256: string;
  readonly bytes: number;
}

/**
 * The sha256 and size of a file, reading at most `bytesMax + 1` bytes: a file larger than
 * the bound is reported as `bytesMax + 1` bytes without being read to its end, so a
 * caller comparing against a bound never hashes an unbounded file.
 */
export async function digestFile(path: string, bytesMax: number): Promise<FileDigest> {
  const handle = await open(path, 'r');
  try {
    const hash = createHash('sha256');
    const buffer = Buffer.allocUnsafe(kReadBytes);
    let total = 0;
    for (;;) {
      const want = Math.min(kReadBytes, bytesMax + 1 - total);
      if (want <= 0) break;
      const { bytesRead } = await handle.read(buffer, 0, want, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      total += bytesRead;
    }
    return { sha256: hash.digest('hex'), bytes: total };
  } finally {
    await handle.close();
  }
}
