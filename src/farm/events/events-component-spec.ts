import { compiledModulePath } from '../../core/platform/package-root.js';
import type { ComponentSpec } from '../components/host/component-spec.js';

/**
 * Where the event service's component module is, and its spec, apart from the module itself: the
 * agent names every farm component kind it may run whether or not it runs it, and this
 * keeps the component's code and schemas out of an agent that does not (issue 14: an
 * agent's RSS). events-component.ts re-exports both.
 */
export function eventsComponentPath(): string {
  return compiledModulePath(new URL('./events-component.js', import.meta.url).href);
}

/** The spec to add the event service to a ComponentHost (kind "events"); spread it to set a config ({ management: true } on management nodes). */
export const kEventsComponent: ComponentSpec = Object.freeze({ name: 'events', kind: 'events', module: eventsComponentPath() });
