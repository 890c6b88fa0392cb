/**
 * The process environment, for the few switches core honours (GALAXY_NO_WASM): read here,
 * in core's one door to the machine, so the rest of src/core never touches `process`
 * (scripts/check-core-purity.mjs).
 */
export function processEnvironment(): Readonly<Record<string, string | undefined>> {
  return process.env;
}
