// Proves single transitions of the admission protocol, split out of FarmService: the
// controller (admission-controller.ts), the joining node's client (admission-client.ts)
// and key rotation (key-rotation.ts). Each transcript in test/testdata/admission/*.txt
// drives the real cores of a few nodes (real authority file, real node keys, real grant
// boxes and certificates, real AES-GCM keyrings) command by command through
// test/support/admission-transcript.ts and compares everything they output with the
// expected text: request -> pending -> approve/reject -> grant; redirect from a node
// that is not a controller; revocation -> rotation -> the revoked node cut off; a restart
// with stored credentials; the ordering of keyring epochs; forged requests refused.
// The same transcripts run against deliberately broken setups (an authority that
// approves everyone, a driver that says no member lags behind) and must fail there.
// Set GALAXY_REWRITE=1 to write the actual outputs into the transcripts (then read the diff).
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AdmissionWorld, parseAdmissionTranscript, type AdmissionWorldOptions } from './support/admission-transcript.js';

const kDir = join(import.meta.dirname, 'testdata', 'admission');

/** Runs a transcript; returns the first block whose output differs (null: all match). */
function runTranscript(file: string, options: AdmissionWorldOptions = {}): { line: number; command: string; expected: string; actual: string } | null {
  const world = new AdmissionWorld(mkdtempSync(join(tmpdir(), 'galaxy-admission-transcript-')), options);
  const text = readFileSync(join(kDir, file), 'utf8');
  const rewrite = process.env['GALAXY_REWRITE'] === '1' && Object.keys(options).length === 0;
  const out: string[] = [];
  const lines = text.split('\n');
  let copied = 0;
  for (const block of parseAdmissionTranscript(text)) {
    const actual = world.run(block.command);
    if (rewrite) {
      // Keep everything up to the command, then write its actual output block.
      out.push(...lines.slice(copied, block.line));
      out.push('----', ...(actual === '' ? [] : actual.split('\n')));
      copied = block.line;
      if (lines[copied] === '----') for (copied++; copied < lines.length && lines[copied]!.trim() !== ''; copied++);
    } else if (actual !== block.expected) return { line: block.line, command: block.command, expected: block.expected, actual };
  }
  if (rewrite) writeFileSync(join(kDir, file), [...out, ...lines.slice(copied)].join('\n'));
  return null;
}

describe('admission transitions (transcripts)', () => {
  const files = readdirSync(kDir).filter((f) => f.endsWith('.txt')).sort();
  it('has the transcripts the split promised', () => {
    expect(files).toEqual(expect.arrayContaining(['approve-grant.txt', 'reject.txt', 'redirect.txt', 'revoke-rotate.txt', 'restart-credentials.txt', 'epochs.txt', 'forged-requests.txt']));
  });
  for (const file of files) {
    it(file, () => {
      const mismatch = runTranscript(file);
      expect(mismatch === null ? null : `${file}:${mismatch.line}: ${mismatch.command}\n--- expected\n${mismatch.expected}\n--- actual\n${mismatch.actual}`).toBeNull();
    });
  }
});

describe('the transcripts catch broken variants', () => {
  it('an authority that approves every request breaks the pending transcript', () => {
    const mismatch = runTranscript('approve-grant.txt', { autoApprove: true });
    expect(mismatch).not.toBeNull();
    expect(mismatch!.actual).toContain('event approved N');
  });

  it('a driver that says no member lags behind makes the new key primary too early', () => {
    const mismatch = runTranscript('revoke-rotate.txt', { laggardsAlwaysZero: true });
    expect(mismatch).not.toBeNull();
    expect(mismatch!.actual).toContain('broadcast key-use');
  });
});
