// FarmServices in admission mode in this process (each runs its engine in a worker thread
// on real UDP and TCP sockets on 127.0.0.1), for the admission tests.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FarmService } from '../../src/farm/service/farm-service.js';

export interface AdmissionServices {
  /** The folder holding each service's data directory (root/NAME). */
  readonly root: string;
  /** Starts service NAME with `roles`, joining through `seeds`, its data in root/NAME. */
  start(name: string, roles: string[], seeds: string[], extra?: { bootstrap?: boolean; autoApprove?: boolean }): Promise<FarmService>;
  /** Closes every service started (for the test's afterAll). */
  closeAll(): Promise<void>;
}

export function admissionServices(prefix: string): AdmissionServices {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const services: FarmService[] = [];
  return {
    root,
    async start(name, roles, seeds, extra = {}) {
      const service = await FarmService.start({ agent: { bind: '127.0.0.1:0', join: seeds, preset: 'local' }, dataDir: join(root, name), mode: 'admission', roles, ...extra });
      services.push(service);
      return service;
    },
    async closeAll() {
      await Promise.all(services.map((s) => s.close().catch(() => {})));
    },
  };
}

/** Whether `service` holds member `id` alive. */
export function alive(service: FarmService, id: string): boolean {
  return service.members().some((m) => m.id === id && m.status === 'alive');
}
