import type { NodeValues } from '../data/node-values.js';
import { ok, route, type ApiRoute } from '../../surface/api/api-route.js';
import { kValuesQuerySchema } from '../../surface/api/api-schemas.js';

/** What the measurement route asks of the agent: the values components posted per node. */
export interface MeasurementBackend {
  /** Values posted by components, for one node or all nodes this node knows. */
  values(node: string | undefined): NodeValues[];
}

/**
 * The Measurement service's route:
 *
 *   GET /v1/values  viewer  ?node=ID -> per node, its values and when they were posted
 */
export function measurementRoutes(backend: MeasurementBackend): ApiRoute[] {
  return [route({ method: 'GET', pattern: '/v1/values', role: 'viewer', query: kValuesQuerySchema, handle: ({ query }) => ok(backend.values(query.node)) })];
}
