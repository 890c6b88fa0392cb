import { z } from 'zod';
import { InstallError } from './install-error.js';
import { packageChecksum } from './package-checksum.js';
import {
  kDependsOnMax,
  kManifestBytesMax,
  kPackageBytesMax,
  kPackageConfigJsonLengthMax,
  kPackageFilesMax,
  kStartOrderMax,
  kStartOrderMin,
} from './package-limits.js';
import { packagePathProblem, pathSetProblem } from './package-path.js';
import { isSemver } from './semver.js';

/**
 * The manifest of a component package (galaxy-component.json):
 *
 *   name        the component's name on a node: [a-z][a-z0-9-]{0,62}, as the component
 *               host names components (and their state directories)
 *   version     a semantic version; name@version is immutable farm-wide
 *   kind        the service kind: components of one kind on different nodes are peers
 *   entry       the ES module the component host runs (one of `files`, .js or .mjs)
 *   files       every file: {path, sha256 (hex), bytes}
 *   checksum    see package-checksum.ts: covers every other field and each file
 *   config      default configuration; a desired entry's config is laid over it
 *   startOrder  integer; lower starts first (default 0), ties by name
 *   dependsOn   names of components that must run on the node before this one starts
 *   memoryMb    the V8 heap bound of its process (the host's default if absent)
 *   format      1 (the manifest format; optional)
 *
 * A source manifest (what a developer writes) may leave out files and checksum: sealing
 * (package-directory.ts) computes them. A sealed manifest has both, and they must hold.
 */
export const kComponentNamePattern = /^[a-z][a-z0-9-]{0,62}$/;
const kKindPattern = /^[a-z][a-z0-9-]{0,63}$/;
const kSha256Pattern = /^[0-9a-f]{64}$/;

const kNameSchema = z.string().regex(kComponentNamePattern, 'a component name is 1 to 63 of a-z 0-9 - starting with a letter');
const kVersionSchema = z.string().refine(isSemver, 'a version is a semantic version such as 1.2.3 or 2.0.0-rc.1');
const kPathSchema = z.string().superRefine((path, context) => {
  const problem = packagePathProblem(path);
  if (problem !== null) context.addIssue({ code: z.ZodIssueCode.custom, message: problem });
});

const kFileSchema = z
  .object({
    path: kPathSchema,
    sha256: z.string().regex(kSha256Pattern, 'a sha256 is 64 lowercase hex digits'),
    bytes: z.number().int().min(0).max(kPackageBytesMax),
  })
  .strict();

const kConfigSchema = z
  .record(z.unknown())
  .refine((config) => JSON.stringify(config).length <= kPackageConfigJsonLengthMax, `a default configuration is at most ${kPackageConfigJsonLengthMax} characters of JSON`);

const kSourceFields = {
  format: z.literal(1).optional(),
  name: kNameSchema,
  version: kVersionSchema,
  kind: z.string().regex(kKindPattern, 'a kind is 1 to 64 of a-z 0-9 - starting with a letter'),
  entry: kPathSchema.refine((path) => /\.(m?js)$/.test(path), 'the entry is an ES module: a .js or .mjs file'),
  config: kConfigSchema.optional(),
  startOrder: z.number().int().min(kStartOrderMin).max(kStartOrderMax).optional(),
  dependsOn: z.array(kNameSchema).max(kDependsOnMax).optional(),
  memoryMb: z.number().int().min(16).max(65_536).optional(),
};

const kFilesSchema = z
  .array(kFileSchema)
  .max(kPackageFilesMax, `a package holds at most ${kPackageFilesMax} files`)
  .superRefine((files, context) => {
    const problem = pathSetProblem(files.map((f) => f.path));
    if (problem !== null) context.addIssue({ code: z.ZodIssueCode.custom, message: problem });
    const total = files.reduce((sum, f) => sum + f.bytes, 0);
    if (total > kPackageBytesMax) context.addIssue({ code: z.ZodIssueCode.custom, message: `the files hold ${total} bytes (at most ${kPackageBytesMax})` });
  });

export const kSourceManifestSchema = z
  .object({ ...kSourceFields, files: kFilesSchema.optional(), checksum: z.string().regex(kSha256Pattern, 'a checksum is 64 lowercase hex digits').optional() })
  .strict();

export const kPackageManifestSchema = z
  .object({ ...kSourceFields, files: kFilesSchema, checksum: z.string().regex(kSha256Pattern, 'a checksum is 64 lowercase hex digits') })
  .strict()
  .superRefine((manifest, context) => {
    if (!manifest.files.some((f) => f.path === manifest.entry)) context.addIssue({ code: z.ZodIssueCode.custom, path: ['entry'], message: `the entry "${manifest.entry}" is not among the files` });
    if (manifest.dependsOn?.includes(manifest.name) === true) context.addIssue({ code: z.ZodIssueCode.custom, path: ['dependsOn'], message: 'a package cannot depend on itself' });
  });

export type SourceManifest = z.infer<typeof kSourceManifestSchema>;
export type PackageManifest = z.infer<typeof kPackageManifestSchema>;
export type PackageFile = PackageManifest['files'][number];

/** Issues named in one error at most. */
const kIssuesShownMax = 5;

function describe(error: z.ZodError): string {
  const shown = error.issues.slice(0, kIssuesShownMax).map((issue) => `${issue.path.length === 0 ? 'manifest' : issue.path.join('.')}: ${issue.message}`);
  const more = error.issues.length - shown.length;
  return more > 0 ? `${shown.join('; ')}; and ${more} more` : shown.join('; ');
}

/** Parses manifest text (bounded), as a source or a sealed manifest; throws GALAXY_PACKAGE_BAD_MANIFEST or _TOO_LARGE naming `where`. */
export function parseManifestText(text: string, where: string): unknown {
  if (Buffer.byteLength(text, 'utf8') > kManifestBytesMax) throw new InstallError('GALAXY_PACKAGE_TOO_LARGE', `${where}: the manifest is larger than ${kManifestBytesMax} bytes`);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new InstallError('GALAXY_PACKAGE_BAD_MANIFEST', `${where}: the manifest is not JSON (${(error as Error).message})`);
  }
}

export function checkSourceManifest(value: unknown, where: string): SourceManifest {
  const parsed = kSourceManifestSchema.safeParse(value);
  if (!parsed.success) throw new InstallError('GALAXY_PACKAGE_BAD_MANIFEST', `${where}: ${describe(parsed.error)}`);
  return parsed.data;
}

/**
 * A sealed manifest whose checksum holds for its own fields and file list (the files'
 * bytes are checked by whoever holds them). Throws GALAXY_PACKAGE_BAD_MANIFEST or
 * GALAXY_PACKAGE_CHECKSUM_MISMATCH.
 */
export function checkPackageManifest(value: unknown, where: string): PackageManifest {
  const parsed = kPackageManifestSchema.safeParse(value);
  if (!parsed.success) throw new InstallError('GALAXY_PACKAGE_BAD_MANIFEST', `${where}: ${describe(parsed.error)}`);
  const manifest = parsed.data;
  const expected = packageChecksum(manifest, manifest.files);
  if (expected !== manifest.checksum) throw new InstallError('GALAXY_PACKAGE_CHECKSUM_MISMATCH', `${where}: the checksum ${manifest.checksum} does not match the manifest and its files (computed ${expected})`);
  return manifest;
}

/** The total of a package's file bytes. */
export function packageBytes(manifest: Pick<PackageManifest, 'files'>): number {
  return manifest.files.reduce((sum, f) => sum + f.bytes, 0);
}

/** "name@version", as operators and logs write a package. */
export function packageId(name: string, version: string): string {
  return `${name}@${version}`;
}
