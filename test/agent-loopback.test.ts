// Proves the agent end to end over real UDP and TCP on 127.0.0.1: ten `galaxy agent`
// processes (the built CLI, --preset local) converge, every one logging a join for each
// of the nine others; after one is SIGKILLed, every survivor logs it dead (the time from
// the kill to each survivor's "dead" line is measured and printed; node:dgram sees no
// ICMP, so this is pure probe-and-suspicion detection); restarted on the same address it
// comes back with a higher incarnation and every survivor logs it joining again; finally
// a SIGTERM makes it leave gracefully: it exits 0 after a "stopped" line and every other
// agent logs "leave". Ports are found free by binding port 0 first. Every spawned process
// is SIGKILLed in afterAll, whatever happened. Needs `npm run build` (npm test runs it).
import { once } from 'node:events';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, killAllAgents, linesAbout, spawnAgent, until, type Agent, type LogLine } from './support/agents.js';

const kAgents = 10;

function joinedAll(agent: Agent, all: readonly Agent[]): boolean {
  return all.every((other) => other === agent || linesAbout(agent, other.address, 'join').length > 0);
}

afterAll(async () => {
  killAllAgents();
});

describe('galaxy agent over loopback', () => {
  it('converges, detects a SIGKILL, readmits the restarted node with a higher incarnation, and sees a graceful leave', async () => {
    const ports: number[] = [];
    for (let i = 0; i < kAgents; i++) ports.push(await freePort());
    const addresses = ports.map((p) => `127.0.0.1:${p}`);
    // Agent 0 seeds through agent 1 and everyone else through agent 0, so any of them can restart and rejoin.
    const seedsOf = (i: number): string[] => (i === 0 ? [addresses[1]!] : [addresses[0]!]);
    const agents = addresses.map((address, i) => spawnAgent(address, seedsOf(i), ['--transport', 'dgram']));
    const startedAt = Date.now();

    await until('every agent logged a join for the 9 others', () => agents.every((a) => joinedAll(a, agents)), 30_000, agents);
    console.log(`converged: ${kAgents} agents in ${Date.now() - startedAt} ms from spawn`);

    const victimIndex = 4;
    const victim = agents[victimIndex]!;
    const firstLife = victim.lines.find((l) => l.event === 'started')!;
    expect(firstLife.address).toBe(victim.address);
    const survivors = agents.filter((a) => a !== victim);
    const killedAtMs = Date.now();
    victim.child.kill('SIGKILL');
    await until('every survivor logged the victim dead', () => survivors.every((a) => linesAbout(a, victim.address, 'dead', killedAtMs).length > 0), 20_000, agents);
    const detectionMs = survivors.map((a) => Date.parse(linesAbout(a, victim.address, 'dead', killedAtMs)[0]!.t) - killedAtMs);
    console.log(`kill-to-dead ms per survivor: ${detectionMs.join(', ')}; max ${Math.max(...detectionMs)}, min ${Math.min(...detectionMs)}`);

    // Restart on the same address: same node id, higher incarnation.
    const restartedAtMs = Date.now();
    const reborn = spawnAgent(victim.address, seedsOf(victimIndex), ['--transport', 'dgram']);
    agents[victimIndex] = reborn;
    await until('the restarted agent started', () => reborn.lines.some((l) => l.event === 'started'), 10_000, agents);
    const secondLife = reborn.lines.find((l) => l.event === 'started')!;
    expect(secondLife.id).toBe(firstLife.id);
    expect(secondLife.incarnation!).toBeGreaterThan(firstLife.incarnation!);
    const rejoined = (a: Agent): LogLine | undefined =>
      a.lines.find((l) => l.address === victim.address && (l.event === 'join' || l.event === 'alive') && Date.parse(l.t) >= restartedAtMs && l.incarnation! > firstLife.incarnation!);
    await until('every survivor logged the restarted agent alive again', () => survivors.every((a) => rejoined(a) !== undefined), 20_000, agents);
    const rejoinMs = survivors.map((a) => Date.parse(rejoined(a)!.t) - restartedAtMs);
    console.log(`restart-to-join ms per survivor (process start included): max ${Math.max(...rejoinMs)}, incarnations ${firstLife.incarnation} -> ${[...new Set(survivors.map((a) => rejoined(a)!.incarnation))].join(', ')}`);
    await until('the restarted agent logged a join for the 9 others', () => joinedAll(reborn, agents), 20_000, agents);

    // Graceful leave: SIGTERM, exit 0 after "stopped", and every other agent logs "leave".
    const exited = once(reborn.child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    const terminatedAtMs = Date.now();
    reborn.child.kill('SIGTERM');
    const [code] = await exited;
    expect(code).toBe(0);
    expect(reborn.lines.at(-1)?.event).toBe('stopped');
    await until('every survivor logged the leave', () => survivors.every((a) => linesAbout(a, victim.address, 'leave', terminatedAtMs).length > 0), 10_000, agents);

    // Diagnostics: accusations of members that never went away (false positives under load).
    const falseAlarms = survivors.flatMap((a) => a.lines.filter((l) => (l.event === 'suspect' || l.event === 'dead') && l.address !== victim.address).map((l) => `${a.address} ${l.event} ${l.address}`));
    console.log(`suspect/dead events about live members: ${falseAlarms.length}${falseAlarms.length > 0 ? ` (${falseAlarms.slice(0, 5).join('; ')})` : ''}`);
    for (const agent of survivors) expect(agent.child.exitCode).toBeNull(); // nobody crashed
  }, 90_000);
});
