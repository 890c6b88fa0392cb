// Proves single transitions of the membership engine, one transcript each: every file
// in test/testdata/membership/ drives ONE MembershipEngine from readable commands (see
// test/support/membership-transcript.ts) and holds the engine's exact outputs after each
// command: datagrams and frames decoded with the project's codec, events, member states.
// A transcript fails on any difference, with a diff; GALAXY_REWRITE=1 regenerates the
// expected outputs so a behaviour change is reviewed as a diff of the .txt files. Each
// transcript runs on the Wasm and the TypeScript kernels and must print the same.
// The last tests show the comparison can fail: once with a wrong expected output, once
// with a deliberately broken engine (a SUSPECT at the current incarnation ignored).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { EngineContext } from '../src/core/membership/engine-context.js';
import { MemberState } from '../src/core/membership/member-state.js';
import { formatTranscript, MembershipTranscript, parseTranscript } from './support/membership-transcript.js';

const kDirectory = join(import.meta.dirname, 'testdata', 'membership');
const kRewrite = process.env.GALAXY_REWRITE === '1';

/** Runs a transcript's commands and returns each one's output. */
function outputsOf(text: string, backend: 'wasm' | 'ts'): string[] {
  const { blocks } = parseTranscript(text);
  const transcript = new MembershipTranscript({ backend });
  return blocks.map((block) => {
    try {
      return transcript.run(block.command);
    } catch (error) {
      throw new Error(`line ${block.line}: ${block.command}: ${(error as Error).message}`);
    }
  });
}

/** The transcript as it would be with these outputs: compared whole, so vitest prints a line diff. */
function render(text: string, outputs: readonly string[]): string {
  const { blocks, trailer } = parseTranscript(text);
  return formatTranscript(blocks, outputs, trailer);
}

const files = readdirSync(kDirectory).filter((f) => f.endsWith('.txt')).sort();

describe('membership transcripts', () => {
  it('has transcripts, each opening with a comment that says what it proves', () => {
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) expect(readFileSync(join(kDirectory, file), 'utf8').startsWith('# '), file).toBe(true);
  });

  it('rejects a transcript that cannot run as written, with a coded error', () => {
    const transcript = new MembershipTranscript({ backend: 'ts' });
    expect(() => transcript.run('tick 5ms')).toThrow(expect.objectContaining({ code: 'GALAXY_TRANSCRIPT_INVALID', message: 'no engine yet: `start` or `join` first' }));
    expect(() => transcript.run('config nosuchOption=1')).toThrow(/unknown membership option "nosuchOption"/);
    transcript.run('start');
    expect(() => transcript.run('recv ping seq=1')).toThrow('ping needs from=');
    expect(() => transcript.run('frobnicate')).toThrow(/unknown command "frobnicate"/);
  });

  for (const file of files) {
    it(file, () => {
      const path = join(kDirectory, file);
      const text = readFileSync(path, 'utf8');
      const outputs = outputsOf(text, 'wasm');
      const actual = render(text, outputs);
      if (kRewrite) {
        writeFileSync(path, actual);
        return;
      }
      expect(actual, `${file} differs from the engine's outputs (GALAXY_REWRITE=1 regenerates it; review the diff)`).toBe(text);
      expect(render(text, outputsOf(text, 'ts')), `${file} on the TypeScript kernels`).toBe(text);
    });
  }

  it('fails when an expected output is wrong (the comparison can fail)', () => {
    const text = readFileSync(join(kDirectory, files[0]!), 'utf8');
    const { blocks, trailer } = parseTranscript(text);
    const outputs = outputsOf(text, 'wasm');
    const broken = formatTranscript(blocks, outputs.map((o, i) => (i === outputs.length - 1 ? `${o}\n@0 event join Z inc=9` : o)), trailer);
    expect(render(broken, outputsOf(broken, 'wasm'))).not.toBe(broken);
  });

  it('fails when the engine breaks an incarnation rule (a deliberately broken engine)', () => {
    const text = readFileSync(join(kDirectory, 'incarnation-rules.txt'), 'utf8');
    const original = MemberState.prototype.suspect;
    // Broken: a SUSPECT at the member's current incarnation is ignored (SWIM says it overrides ALIVE).
    MemberState.prototype.suspect = function (this: MemberState, row: number, incarnation: number, fromRow: number, urgent: boolean): void {
      const ctx = (this as unknown as { ctx: EngineContext }).ctx;
      if (row !== ctx.selfRow && incarnation <= ctx.table.incarnation[row]!) return;
      original.call(this, row, incarnation, fromRow, urgent);
    };
    try {
      expect(render(text, outputsOf(text, 'wasm'))).not.toBe(text);
    } finally {
      MemberState.prototype.suspect = original;
    }
    expect(render(text, outputsOf(text, 'wasm'))).toBe(text);
  });
});
