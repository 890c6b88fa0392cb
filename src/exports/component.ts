/**
 * `galaxy-farm/component`: the SDK a farm service component is written against. A
 * component module's default export is `defineComponent({ start, stop, membership, peer,
 * services, ... })`; see ComponentDefinition for every handler and ComponentContext for
 * what a handler may do (post values, talk to its peers, call farm services).
 */
export { defineComponent, type CallOptions, type ComponentContext, type ComponentDefinition, type ComponentLog, type ComponentPeer, type ServiceHandler } from '../farm/components/sdk.js';
