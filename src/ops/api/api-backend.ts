import type { MemberView } from '../../core/membership/member-view.js';
import type { ApiEvent } from '../../core/util/api-event.js';
import type { MetricFamily } from '../../core/util/metric-family.js';
import type { AdmissionBackend } from '../../farm/admission/admission-routes.js';
import type { ComponentsBackend } from '../../farm/components/components-routes.js';
import type { MeasurementBackend } from '../../farm/measurement/measurement-routes.js';
import type { NodeSummary } from '../../farm/service/node-summary.js';

/**
 * What the HTTP API serves, as the farm node provides it (src/ops/agent/farm-node.ts).
 * The API server (this folder) owns HTTP, WebSocket, authentication, validation, limits
 * and the Prometheus text format. The types it serves belong to the layers that make
 * them (members to core/membership, admission records to farm/admission, component
 * status to farm/components, ...), and each feature's routes name the slice of this
 * interface they need (AdmissionBackend, ComponentsBackend, MeasurementBackend), so
 * nothing below src/ops depends on the API.
 * A method fails with a DomainError (src/core/util/domain-error.ts) whose kind the API
 * server turns into an HTTP status; any other error is an internal error (500).
 */
export interface ApiBackend extends AdmissionBackend, ComponentsBackend, MeasurementBackend {
  node(): NodeSummary;
  members(): MemberView[];
  metrics(): Promise<MetricFamily[]>;
  /** Subscribes to events; returns the unsubscribe function. */
  subscribe(listener: (event: ApiEvent) => void): () => void;
}
