/**
 * `galaxy-farm/client`: a typed client of an agent's HTTP API, and the shapes its routes
 * answer with. `new ApiClient({ url, token })`, then `get('/v1/members')` and the like;
 * failures are ApiClientError (unreachable, timeout, bad response) or the API's own coded
 * error.
 */
export { ApiClient, ApiClientError, kApiClientTimeoutMsDefault, type ApiClientErrorCode, type ApiClientOptions } from '../api/api-client.js';
export type { AdmissionRecord, ApiEvent, ComponentStatus, KeyView, MemberView, MetricFamily, NodeSummary, NodeValues } from '../api/api-backend.js';
export type { MembershipEventType } from '../gossip/membership-event.js';
