/**
 * The agent worker thread: builds one NodeDriver (src/node/driver/node-driver.ts) from
 * its workerData and plugs the parent port in. The driver owns the UDP socket and the
 * TCP listener and runs the node's NodeStack (membership, messenger envelopes, the
 * FMIDB replica), so datagrams never cross threads one by one; the main thread sees only
 * membership events, the messenger's other envelopes, admission datagrams and the
 * FMIDB's changes, in batches.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { AgentWorkerData, AgentWorkerRequest } from '../src/node/driver/agent-worker-protocol.js';
import { NodeDriver } from '../src/node/driver/node-driver.js';
// The magic test only: admission-wire.ts would load zod and the schemas into the worker.
import { isAdmissionDatagram } from '../src/farm/admission/admission-magic.js';

const port = parentPort!;
const driver = new NodeDriver({ data: workerData as AgentWorkerData, report: (report) => port.postMessage(report), closed: () => port.close(), isAdmissionDatagram });
// Requests are taken once the sockets are open; the port holds them until then.
void driver.start().then(() => {
  if (driver.engine !== null) port.on('message', (request: AgentWorkerRequest) => driver.handle(request));
});
