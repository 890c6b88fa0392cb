/**
 * Bounds on a component package. Every one is enforced where bytes enter the node (an
 * archive being read, a directory being imported, chunks arriving from a peer) before
 * anything is written, so a hostile or broken package costs at most these amounts.
 */

const kKiB = 1024;
const kMiB = 1024 * kKiB;

/** All file bytes of one package together. A farm service component is code plus small data; 64 MiB leaves room for bundled dependencies. */
export const kPackageBytesMax = 64 * kMiB;
/** Files in one package. */
export const kPackageFilesMax = 1024;
/** Characters of one file path (POSIX, relative), and directory levels in it. */
export const kPackagePathLengthMax = 255;
export const kPackagePathDepthMax = 16;
/** Bytes of the manifest JSON. 1024 files of about 200 characters each, plus a configuration. */
export const kManifestBytesMax = 512 * kKiB;
/** JSON length of a package's default configuration (as the component host bounds a configuration). */
export const kPackageConfigJsonLengthMax = 64 * kKiB;
/** Names in one package's dependsOn. */
export const kDependsOnMax = 16;
/** Characters of a version string (semver, build metadata included). */
export const kVersionLengthMax = 64;
/** startOrder range: a component with a lower value starts first. */
export const kStartOrderMin = -1_000_000;
export const kStartOrderMax = 1_000_000;

/**
 * Bytes of one chunk a peer serves on the chunk channel: one answer frame, far inside a
 * stream frame (16 MiB), and a 64 MiB package in 64 round trips.
 */
export const kChunkBytesMax = 1 * kMiB;
/** Chunk requests one node serves at once; more are refused with GALAXY_INSTALL_BUSY so the fetcher moves on. */
export const kChunkServesInFlightMax = 8;
/** Versions of one package name the store keeps after an install (the installed one always among them). */
export const kVersionsKeptPerName = 3;
