/**
 * `galaxy-farm/client`: a typed client of an agent's HTTP API, and the shapes its routes
 * answer with. `new ApiClient({ url, token })`, then `get('/v1/members')` and the like;
 * failures are ApiClientError (unreachable, timeout, bad response) or the API's own coded
 * error.
 */
export { ApiClient, ApiClientError, kApiClientTimeoutMsDefault, type ApiClientErrorCode, type ApiClientOptions } from '../surface/client/api-client.js';
export type { MemberView } from '../core/membership/member-view.js';
export type { ApiEvent } from '../core/util/api-event.js';
export type { MetricFamily } from '../core/util/metric-family.js';
export type { AdmissionRecord, KeyView } from '../farm/admission/admission-record.js';
export type { ComponentStatus } from '../farm/components/component-status.js';
export type { NodeValues } from '../farm/data/node-values.js';
export type { NodeSummary } from '../farm/service/node-summary.js';
export type { MembershipEventType } from '../core/membership/membership-event.js';
