// Proves single transitions of the membership engine, one transcript each: every file
// in test/testdata/membership/ drives ONE MembershipEngine from readable commands (see
// test/support/membership-transcript.ts) and holds the engine's exact outputs after each
// command: datagrams and frames decoded with the project's codec, events, member states.
// A transcript fails on any difference, with a diff; GALAXY_REWRITE=1 regenerates the
// expected outputs so a behaviour change is reviewed as a diff of the .txt files. Each
// transcript runs on the Wasm and the TypeScript kernels and must print the same.
// A last test breaks a transcript on purpose to show the comparison can fail.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
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
});
