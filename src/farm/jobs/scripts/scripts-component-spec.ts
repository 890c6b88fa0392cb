import { compiledModulePath } from '../../../core/platform/package-root.js';
import type { ComponentSpec } from '../../components/host/component-spec.js';

/**
 * Where the script service's component module is, and its spec, apart from the module itself: the
 * agent names every farm component kind it may run whether or not it runs it, and this
 * keeps the component's code and schemas out of an agent that does not (issue 14: an
 * agent's RSS). scripts-component.ts re-exports both.
 */
export function scriptsComponentPath(): string {
  return compiledModulePath(new URL('./scripts-component.js', import.meta.url).href);
}

/** The spec to add the script service to a ComponentHost (kind "scripts"). */
export const kScriptsComponent: ComponentSpec = Object.freeze({ name: 'scripts', kind: 'scripts', module: scriptsComponentPath() });
