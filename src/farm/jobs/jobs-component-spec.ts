import { compiledModulePath } from '../../core/platform/package-root.js';
import type { ComponentSpec } from '../components/host/component-spec.js';

/**
 * Where the jobs service's component module is, and its spec, apart from the module itself: the
 * agent names every farm component kind it may run whether or not it runs it, and this
 * keeps the component's code and schemas out of an agent that does not (issue 14: an
 * agent's RSS). jobs-component.ts re-exports both.
 */
export function jobsComponentPath(): string {
  return compiledModulePath(new URL('./jobs-component.js', import.meta.url).href);
}

/** The spec to add the jobs service to a ComponentHost (kind "jobs"). */
export const kJobsComponent: ComponentSpec = Object.freeze({ name: 'jobs', kind: 'jobs', module: jobsComponentPath() });
