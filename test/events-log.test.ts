// Proves the log follower on real files in a temporary directory, polled by hand: it
// starts at the end of a file it has no position for; it returns whole lines only
// (a partial line waits for its newline) and cuts over-long lines; it follows a rename
// rotation, reading the old file to its end (its last line even without a newline)
// before the new one from its start; it restarts at the beginning after a truncation;
// it reads a file that appears while followed from its start; and a follower made from a saved position
// resumes exactly there, whether the file was appended to or rotated meanwhile.
import { appendFileSync, mkdtempSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LogFollower } from '../src/farm/events/log-follower.js';

const root = mkdtempSync(join(tmpdir(), 'galaxy-events-log-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let files = 0;
function logFile(content = ''): string {
  const path = join(root, `app-${files++}.log`);
  writeFileSync(path, content);
  return path;
}

const texts = (follower: LogFollower) => follower.poll().map((line) => (line.cut ? `${line.text}[cut]` : line.text));

describe('log follower', () => {
  it('starts at the end, returns whole lines, cuts long ones', () => {
    const path = logFile('old line\n');
    const follower = new LogFollower(path, null, { lineLengthMax: 16, readBytesMax: 64 });
    expect(texts(follower)).toEqual([]);
    appendFileSync(path, 'ERROR one\nhalf');
    expect(texts(follower)).toEqual(['ERROR one']);
    appendFileSync(path, ' done\r\n');
    expect(texts(follower)).toEqual(['half done']);
    appendFileSync(path, `${'x'.repeat(100)}\nafter\n`);
    expect(texts(follower)).toEqual([]); // 64 bytes per poll: the long line is still going
    expect(texts(follower)).toEqual([`${'x'.repeat(16)}[cut]`, 'after']);
    appendFileSync(path, 'é'.repeat(10) + '\n');
    expect(texts(follower)).toEqual([`${'é'.repeat(8)}[cut]`]);
    follower.close();
  });

  it('follows rotation by rename and truncation', () => {
    const path = logFile();
    const follower = new LogFollower(path, null);
    expect(texts(follower)).toEqual([]);
    appendFileSync(path, 'a1\na2\na3 no newline');
    renameSync(path, `${path}.1`);
    writeFileSync(path, 'b1\n');
    // The old file to its end first, then the new one from its start.
    expect(texts(follower)).toEqual(['a1', 'a2', 'a3 no newline', 'b1']);
    appendFileSync(`${path}.1`, 'late write to the old file\n');
    appendFileSync(path, 'b2\n');
    expect(texts(follower)).toEqual(['b2']);
    truncateSync(path, 0);
    appendFileSync(path, 'c1\n');
    expect(texts(follower)).toEqual(['c1']);
    follower.close();
  });

  it('waits for a missing file, and resumes from a saved position after appends or a rotation', () => {
    const path = join(root, 'later.log');
    const follower = new LogFollower(path, null);
    expect(texts(follower)).toEqual([]);
    expect(follower.position()).toBeNull();
    writeFileSync(path, 'first\n');
    expect(texts(follower)).toEqual(['first']); // created while followed: read whole
    appendFileSync(path, 'second\nthird (partial');
    expect(texts(follower)).toEqual(['second']);
    const saved = follower.position()!;
    follower.close();

    // Written while nobody followed: read on resume, the partial line whole.
    appendFileSync(path, ' now ended)\nfourth\n');
    const resumed = new LogFollower(path, saved);
    expect(texts(resumed)).toEqual(['third (partial now ended)', 'fourth']);
    const saved2 = resumed.position()!;
    resumed.close();

    // Rotated while nobody followed: the new file is read whole.
    renameSync(path, `${path}.1`);
    writeFileSync(path, 'fifth\n');
    const afterRotation = new LogFollower(path, saved2);
    expect(texts(afterRotation)).toEqual(['fifth']);
    afterRotation.close();
  });
});
