// Proves that no profile text, however mangled, crashes the pipeline: seeded random
// mutations (bytes deleted, duplicated, replaced by YAML punctuation; lines dropped,
// swapped, re-indented; values replaced by other types) of every shipped profile go
// through parse, composition, the checks, render, placement and the plan, and each
// either succeeds or raises a ProfileError whose every problem names the file and a
// reason. Both outcomes must occur, so the mutations do reach the checks. A failure
// prints a one-line repro (GALAXY_SIM_SEED, as the simulator tests do).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { planCluster } from '../src/cluster/profiles/cluster-plan.js';
import { catalogOf } from '../src/cluster/profiles/package-catalog.js';
import { parseProfileDocument } from '../src/cluster/profiles/profile-document.js';
import { ProfileError } from '../src/cluster/profiles/profile-error.js';
import { placeProfile } from '../src/cluster/profiles/profile-placement.js';
import { renderProfile } from '../src/cluster/profiles/profile-render.js';
import { ListProfileSource, parseDocuments } from '../src/cluster/profiles/profile-source.js';
import { validateProfile } from '../src/cluster/profiles/profile-validation.js';
import { reproLine, withSeed } from '../src/sim/invariants.js';
import { packageRoot } from '../src/core/platform/package-root.js';
import { Prng } from '../src/core/util/prng.js';

const kDir = join(packageRoot(), 'profiles');
const kFiles = readdirSync(kDir).filter((f) => f.endsWith('.yaml')).sort();
const kTexts = new Map(kFiles.map((f) => [f, readFileSync(join(kDir, f), 'utf8')]));
const kRounds = 300;
const kShipped = parseDocuments(kFiles.map((f) => ({ file: f, text: kTexts.get(f)! })));
const kPunctuation = [':', '-', '[', ']', '{', '}', ',', '&', '*', '!', '|', '>', '#', '"', "'", '\n', ' ', '  ', '\t', '@', '^', 'null', '$remove: true', '~', '0', '-1', '1e9', 'x'];

function mutate(text: string, random: Prng): string {
  const lines = text.split('\n');
  switch (random.nextInt(7)) {
    case 0: {
      const at = random.nextInt(text.length);
      return text.slice(0, at) + text.slice(at + 1 + random.nextInt(8));
    }
    case 1: {
      const at = random.nextInt(text.length);
      return text.slice(0, at) + kPunctuation[random.nextInt(kPunctuation.length)] + text.slice(at);
    }
    case 2: {
      lines.splice(random.nextInt(lines.length), 1);
      return lines.join('\n');
    }
    case 3: {
      const [i, j] = [random.nextInt(lines.length), random.nextInt(lines.length)];
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
      return lines.join('\n');
    }
    case 4: {
      const i = random.nextInt(lines.length);
      lines[i] = (random.chance(0.5) ? '  ' : '') + lines[i]!.replace(/^ {2}/, random.chance(0.5) ? '' : '    ');
      return lines.join('\n');
    }
    case 5: {
      // A value replaced by one of another type.
      const values = ['1', '"text"', '[1, 2]', '{a: 1}', 'null', '-5', '70000', 'true', '~1.x', '^0.0.0'];
      return text.replace(/: ([^\n{[]+)/g, (match) => (random.chance(0.15) ? `: ${values[random.nextInt(values.length)]}` : match));
    }
    default: {
      const i = random.nextInt(lines.length);
      lines.splice(i, 0, lines[random.nextInt(lines.length)]!);
      return lines.join('\n');
    }
  }
}

const kNodes = Array.from({ length: 12 }, (_, i) => ({ id: (i + 1).toString(16).padStart(16, '0'), attributes: { address: `10.0.0.${i}`, 'net.data': 'eth1', rack: `r${i % 4}` } }));

describe('mangled profiles', () => {
  it('every mutation of the shipped profiles is either accepted or refused with a coded error naming the file', () => {
    const seed = withSeed(0x9a1a);
    const random = new Prng(seed);
    let accepted = 0;
    let refused = 0;
    try {
      for (let round = 0; round < kRounds; round++) {
        const file = kFiles[random.nextInt(kFiles.length)]!;
        let text = kTexts.get(file)!;
        for (let k = 1 + random.nextInt(3); k > 0; k--) text = mutate(text, random);
        try {
          const document = parseProfileDocument(file, text);
          // The other shipped files are the source for parents and mixins.
          const others = kShipped.filter((d) => d.file !== file && !(d.name === document.name && d.version === document.version));
          const source = new ListProfileSource([document, ...others], 'profiles/');
          const result = validateProfile(document, source, catalogOf(['measurement@0.1.0']));
          renderProfile(result.composition);
          if (result.profile !== null) {
            placeProfile({ profile: result.profile, nodes: kNodes, landscapes: {} });
            planCluster({ profile: result.profile, nodes: kNodes, landscapes: {}, current: [], catalog: catalogOf([]) });
          }
          accepted++;
        } catch (error) {
          if (!(error instanceof ProfileError)) throw new Error(`round ${round} (${file}) crashed: ${(error as Error).stack}\n--- text ---\n${text}`);
          for (const problem of error.problems) {
            expect(problem.file.length).toBeGreaterThan(0);
            expect(problem.reason.length).toBeGreaterThan(0);
          }
          refused++;
        }
      }
    } catch (error) {
      console.error(reproLine(seed, 'test/profiles-fuzz.test.ts', 'every mutation'));
      throw error;
    }
    expect(accepted).toBeGreaterThan(kRounds / 20);
    expect(refused).toBeGreaterThan(kRounds / 4);
  });

  it('nesting deeper than the bound is refused at its path, before any recursive walk', () => {
    let error: unknown;
    try {
      parseProfileDocument('deep.yaml', `roles:\n  x:\n    components:\n      - package: a\n        config: ${'{a: '.repeat(40)}1${'}'.repeat(40)}\n`);
    } catch (caught) {
      error = caught;
    }
    expect((error as ProfileError).code).toBe('GALAXY_PROFILE_SCHEMA');
    expect((error as ProfileError).message).toMatch(/^deep\.yaml:5:\d+: roles\.x\.components\[0\]\.config(\.a)+: is nested deeper than 32 levels$/);
  });
});

