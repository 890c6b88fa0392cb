/**
 * `galaxy-farm/client`: a typed client of an agent's HTTP API, and the shapes its routes
 * answer with. `new ApiClient({ url, token })`, then `get('/v1/members')` and the like;
 * failures are ApiClientError (unreachable, timeout, bad response) or the API's own coded
 * error.
 */
export { ApiClient, ApiClientError, kApiClientTimeoutMsDefault, type ApiClientErrorCode, type ApiClientOptions } from '../surface/client/api-client.js';
export type { AdmissionRecord, ApiEvent, ComponentStatus, KeyView, MemberView, MetricFamily, NodeSummary, NodeValues } from '../surface/api/api-backend.js';
export type { MembershipEventType } from '../core/membership/membership-event.js';
