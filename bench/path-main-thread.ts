/**
 * bench:path's main-thread rows (issue 14 item 3): the CPU the agent's main thread spends
 * per membership event at 10,000 members, on its real code. A farm node runs in this
 * process as `galaxy agent` runs it (FarmNode: AgentHost with the engine in its worker
 * thread and sockets, FarmService with the messenger's directory, the FMIDB's FarmData,
 * the cluster service; insecure, API off, no components). bench/path-swarm.ts, another
 * process, makes it a 10,000-member farm (members that exist only in the swarm's table,
 * each on its own loopback address, so the agent's probes of them draw ICMP port
 * unreachables) and then churns it: one-part datagrams at a set pace, alternately a
 * SUSPECT of a member and its refutation, each a membership event the worker posts to the
 * main thread. The agent's own suspicions and deaths of members that never answer add
 * more events; all are counted.
 *
 * The main thread's CPU is read from /proc/self/task/<pid>/schedstat (nanoseconds on a
 * CPU, of this thread only: the worker's CPU is not in it). Windows, in one run: idle
 * (the agent alone, before the swarm joins: no events; the main thread's background of
 * timers and links), the agent as shipped churned (readers applying deltas), and the
 * agent churned with issue 14's starting-point readers attached
 * (bench/baseline-member-readers.ts: the member list rebuilt from the shared table and
 * scanned on every turn with events). Per event = (window CPU − background per second ×
 * window) / events, where events are all the main thread got (the churn's and the
 * agent's own suspicions and deaths of members that never answer); the gross figure
 * (nothing subtracted) is printed beside. Issue 14's readers cost per turn, not per
 * event: their window is also reported per turn; a main thread that falls behind takes
 * more events per turn, which makes it look cheaper per event than it is, so their window
 * runs at a slower pace.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FarmNodeHandle } from '../src/ops/agent/embedded-farm-node.js';
import type { FarmNode } from '../src/ops/agent/farm-node.js';
import { attachBaselineMemberReaders } from './baseline-member-readers.js';
import { freePort } from './free-port.js';

export interface MainThreadRow {
  readonly name: string;
  readonly members: number;
  /** Churn datagrams per second the swarm sent (each one event at the agent). */
  readonly pacePerSecond: number;
  readonly windowMs: number;
  readonly events: number;
  /** Turns of the main thread's event loop with membership events (the worker posts one report per wake-up). */
  readonly turnsWithEvents: number;
  /** Main-thread CPU over the window, ms. */
  readonly mainThreadCpuMs: number;
  /** Main-thread CPU per event less the background (the idle window's CPU per second), µs. */
  readonly usPerEvent: number;
  /** Main-thread CPU per event with nothing subtracted (an upper bound), µs. */
  readonly usPerEventGross: number;
  /** Main-thread CPU per turn with events, less the background, ms. */
  readonly msPerTurn: number;
}

export interface MainThreadResult {
  readonly members: number;
  /** Events during the idle window (none expected: the agent is alone then). */
  readonly idleEvents: number;
  /** The main thread's CPU without events (the agent alone: timers, the FMIDB link), ms per second. */
  readonly backgroundMsPerSecond: number;
  readonly rows: MainThreadRow[];
}

/** This thread's time on a CPU, ns (Linux schedstat of the main thread, whose tid is the pid). */
function mainThreadCpuNs(): number {
  return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]);
}

/** The swarm's next answer; its exit (a crash) rejects instead of waiting forever. */
function answer(swarm: ChildProcess): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null): void => reject(new Error(`bench/path-swarm.ts exited with ${code}`));
    swarm.once('exit', onExit);
    swarm.once('message', (message) => {
      swarm.off('exit', onExit);
      resolve(message);
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function measureMainThread(options: { members: number; windowMs: number; pacePerSecond: number; baselinePacePerSecond: number }): Promise<MainThreadResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'galaxy-bench-main-'));
  const swarm = fork(join(dirname(fileURLToPath(import.meta.url)), 'path-swarm.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let handle: FarmNodeHandle | null = null;
  try {
    await answer(swarm);
    const port = await freePort();
    handle = await FarmNodeHandle.start({ bind: `127.0.0.1:${port}`, insecure: true, dataDir, components: [] });
    const node = (handle as unknown as { node: FarmNode }).node;
    const host = node.service.host;
    let events = 0;
    let turns = 0;
    let turnPending = false;
    host.on('event', () => {
      events++;
      if (turnPending) return;
      turnPending = true;
      turns++;
      setImmediate(() => (turnPending = false));
    });
    // The background: the main thread of the agent alone (no members, so no events): its
    // timers, the FMIDB's link, the cluster service.
    await sleep(1_000);
    const idleCpu0 = mainThreadCpuNs();
    const idleEvents0 = events;
    await sleep(options.windowMs);
    const idleCpuMs = (mainThreadCpuNs() - idleCpu0) / 1e6;
    const idleEvents = events - idleEvents0;
    const backgroundMsPerSecond = idleCpuMs / (options.windowMs / 1000);
    swarm.send({ type: 'join', to: host.address, members: options.members - 1 });
    await answer(swarm);
    const deadline = Date.now() + 60_000;
    while (host.members().filter((m) => m.status === 'alive' || m.status === 'suspect').length < options.members * 0.99) {
      if (Date.now() > deadline) throw new Error(`the agent knew ${host.members().length} members after 60 s, not ${options.members}`);
      await sleep(200);
    }
    const churn = async (pacePerSecond: number, windowMs: number): Promise<{ events: number; turns: number; cpuMs: number }> => {
      const events0 = events;
      const turns0 = turns;
      const cpu0 = mainThreadCpuNs();
      swarm.send({ type: 'churn', to: host.address, perSecond: pacePerSecond, durationMs: windowMs });
      await answer(swarm);
      await sleep(50); // the last datagrams' events
      return { events: events - events0, turns: turns - turns0, cpuMs: (mainThreadCpuNs() - cpu0) / 1e6 };
    };
    await churn(options.pacePerSecond, 2_000); // warm-up
    const fresh = await churn(options.pacePerSecond, options.windowMs);
    const windowS = (options.windowMs + 50) / 1000;
    const row = (name: string, pacePerSecond: number, window: { events: number; turns: number; cpuMs: number }, perEvent: number): MainThreadRow => ({
      name,
      members: options.members,
      pacePerSecond,
      windowMs: options.windowMs,
      events: window.events,
      turnsWithEvents: window.turns,
      mainThreadCpuMs: window.cpuMs,
      usPerEvent: perEvent,
      usPerEventGross: (window.cpuMs * 1000) / Math.max(1, window.events),
      msPerTurn: (window.cpuMs - backgroundMsPerSecond * windowS) / Math.max(1, window.turns),
    });
    const perEvent = (window: { events: number; cpuMs: number }): number => (Math.max(0, window.cpuMs - backgroundMsPerSecond * windowS) * 1000) / Math.max(1, window.events);
    const rows = [row("membership events, the agent's readers (deltas)", options.pacePerSecond, fresh, perEvent(fresh))];
    const detach = attachBaselineMemberReaders(node, () => []);
    try {
      const old = await churn(options.baselinePacePerSecond, options.windowMs);
      rows.push(row("membership events, issue 14's readers attached (rebuild per turn)", options.baselinePacePerSecond, old, perEvent(old)));
    } finally {
      detach();
    }
    if (rows[0]!.events === 0) throw new Error('no membership events reached the main thread');
    return { members: options.members, idleEvents, backgroundMsPerSecond, rows };
  } finally {
    await handle?.close();
    swarm.disconnect();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
