import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';

/**
 * Where a follower stands in its file: the file's inode (as a decimal string: inode
 * numbers can exceed 2^53) and the byte offset just after the last whole line taken.
 * Kept by the caller across restarts, so lines written while the component was down
 * are still read, and none twice.
 */
export interface LogPosition {
  readonly ino: string;
  readonly offset: number;
}

export interface LogFollowerLimits {
  /** Bytes of one line kept; the rest of a longer line is skipped (the line is reported cut). */
  readonly lineLengthMax: number;
  /** Bytes read per poll at most, so one huge append cannot stall the component; the rest comes next poll. */
  readonly readBytesMax: number;
}

export const kLogFollowerLimits: LogFollowerLimits = Object.freeze({ lineLengthMax: 4096, readBytesMax: 1024 * 1024 });

/** A line read, cut to lineLengthMax bytes when it was longer. */
export interface LogLine {
  readonly text: string;
  readonly cut: boolean;
}

interface OpenFile {
  readonly fd: number;
  readonly ino: string;
  /** Where the next read starts. */
  offset: number;
  /** Where the line being read began: what a restart resumes from. */
  lineStart: number;
}

const kNewline = 0x0a;

/**
 * Follows one log file as `tail -F` does, by polling: reads what was appended, splits
 * it into lines on '\n' (bytes, so a UTF-8 character is never split at a boundary),
 * and keeps going across
 *   - rotation by rename (logrotate's default): the path now names a new file; the old
 *     one, still open, is read to its end first, then the new one from its start;
 *   - truncation (copytruncate): the file became shorter than the offset; it is read
 *     again from its start;
 *   - the file missing for a while (or at first): it is read from its start when it
 *     appears, since all of it was written while it was followed.
 * A file first seen without a saved position is read from its end: the service reports
 * what happens from now on, not the file's history.
 *
 * A truncation followed by writes that grow the file past the old offset before the
 * next poll cannot be told from an append; the lines in between are missed. Polling
 * (not inotify) is deliberate: it works the same on every file system, including
 * network ones, and costs one stat per file per poll.
 */
export class LogFollower {
  private file: OpenFile | null = null;
  /** The line begun but not yet ended, at most lineLengthMax bytes. */
  private partial: Buffer[] = [];
  private partialBytes = 0;
  private skipping = false;
  /** Whether a file was open before: any file opened after that is new since, and is read from its start. */
  private followedBefore = false;
  private readonly buffer: Buffer;

  constructor(
    readonly path: string,
    private saved: LogPosition | null,
    private readonly limits: LogFollowerLimits = kLogFollowerLimits,
  ) {
    this.buffer = Buffer.alloc(limits.readBytesMax);
  }

  /** Where it stands, for the caller to keep; null until the file was opened. */
  position(): LogPosition | null {
    if (this.file === null) return this.saved;
    return { ino: this.file.ino, offset: this.file.lineStart };
  }

  /** Reads what is new: whole lines, in order. Never throws on a missing or unreadable file (it retries next poll). */
  poll(): LogLine[] {
    const lines: LogLine[] = [];
    const pathIno = inodeOf(this.path);
    if (this.file !== null && pathIno !== this.file.ino) {
      // Rotated or removed: finish the old file, then move on once it is read to its end.
      if (this.read(this.file, lines) === 'more') return lines;
      // Its last line may lack a newline: nothing more will be written to it.
      if (this.partialBytes > 0) lines.push(this.endLine());
      this.closeFile();
    }
    if (this.file === null && pathIno !== null) this.open(pathIno);
    // Missing at the first look: whatever appears later was written since, and is read whole.
    else if (this.file === null && this.saved === null) this.followedBefore = true;
    if (this.file !== null) {
      const size = sizeOf(this.file.fd);
      if (size < this.file.offset) this.restartAt(0); // truncated
      this.read(this.file, lines);
    }
    return lines;
  }

  close(): void {
    this.closeFile();
  }

  private open(ino: string): void {
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch {
      return;
    }
    const opened = inodeOfFd(fd);
    const size = sizeOf(fd);
    // A saved position for this very file resumes there; any other file was created
    // after the saved one (a rotation while the component was down) and is read whole;
    // with no saved position, reading starts at the end.
    let offset: number;
    if (this.followedBefore) offset = 0;
    else if (this.saved === null) offset = size;
    else if (this.saved.ino === opened) offset = this.saved.offset <= size ? this.saved.offset : 0;
    else offset = 0;
    this.saved = null;
    this.followedBefore = true;
    this.file = { fd, ino: opened ?? ino, offset, lineStart: offset };
    this.resetLine();
  }

  /** Reads up to readBytesMax from the file's offset into lines; 'more' if it stopped before the end. */
  private read(file: OpenFile, lines: LogLine[]): 'more' | 'end' {
    let got: number;
    try {
      got = readSync(file.fd, this.buffer, 0, this.buffer.length, file.offset);
    } catch {
      return 'end';
    }
    const readAt = file.offset;
    file.offset += got;
    let start = 0;
    for (let at = this.buffer.indexOf(kNewline, 0); at >= 0 && at < got; at = this.buffer.indexOf(kNewline, start)) {
      this.take(this.buffer.subarray(start, at));
      lines.push(this.endLine());
      start = at + 1;
      file.lineStart = readAt + start;
    }
    this.take(this.buffer.subarray(start, got));
    return got === this.buffer.length ? 'more' : 'end';
  }

  private take(piece: Buffer): void {
    if (this.skipping || piece.length === 0) return;
    const room = this.limits.lineLengthMax - this.partialBytes;
    if (piece.length <= room) {
      this.partial.push(Buffer.from(piece));
      this.partialBytes += piece.length;
      return;
    }
    this.partial.push(Buffer.from(piece.subarray(0, room)));
    this.partialBytes += room;
    this.skipping = true;
  }

  private endLine(): LogLine {
    let bytes = Buffer.concat(this.partial, this.partialBytes);
    if (bytes.length > 0 && bytes[bytes.length - 1] === 0x0d) bytes = bytes.subarray(0, bytes.length - 1);
    const line = { text: bytes.toString('utf8'), cut: this.skipping };
    this.resetLine();
    return line;
  }

  private restartAt(offset: number): void {
    if (this.file !== null) {
      this.file.offset = offset;
      this.file.lineStart = offset;
    }
    this.resetLine();
  }

  private resetLine(): void {
    this.partial = [];
    this.partialBytes = 0;
    this.skipping = false;
  }

  private closeFile(): void {
    if (this.file === null) return;
    try {
      closeSync(this.file.fd);
    } catch {
      // Closed already; nothing to release.
    }
    this.file = null;
    this.resetLine();
  }
}

function inodeOf(path: string): string | null {
  try {
    return statSync(path, { bigint: true }).ino.toString();
  } catch {
    return null;
  }
}

function inodeOfFd(fd: number): string | null {
  try {
    return fstatSync(fd, { bigint: true }).ino.toString();
  } catch {
    return null;
  }
}

function sizeOf(fd: number): number {
  try {
    return Number(fstatSync(fd, { bigint: true }).size);
  } catch {
    return 0;
  }
}
