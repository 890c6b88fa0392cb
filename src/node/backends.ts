import { loadNative } from './native/loader.js';
import { createRuntime } from '../core/kernels/create-runtime.js';
import { transportDecision } from './transport/select-transport.js';

/** Which implementation of each swappable part runs here, and why. */
export interface BackendReport {
  kernels: { backend: 'wasm' | 'ts'; reason: string };
  native: { loaded: boolean; reason: string; capabilities?: Record<string, unknown> };
  /** The datagram transport `galaxy agent --transport auto` would use. */
  transport: { kind: 'native' | 'dgram'; reason: string };
}

/** Loads the kernels and the native addon the way the agent does and reports on both. */
export function backendReport(env: Readonly<Record<string, string | undefined>> = process.env): BackendReport {
  const runtime = createRuntime({ memoryBytes: 2 << 20, env });
  const native = loadNative();
  return {
    kernels: { backend: runtime.kernels.backend, reason: runtime.backendReason },
    native: native.loaded
      ? { loaded: true, reason: `addon loaded from ${native.path}`, capabilities: { ...native.capabilities } }
      : { loaded: false, reason: native.reason },
    transport: transportDecision('auto', env),
  };
}
