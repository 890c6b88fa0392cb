// Proves the component host's parts without processes or clocks: the backoff schedule
// and give-up window (pure functions of the crash history and the time), the message
// checks at the IPC boundary, option and spec validation with coded errors, the rate
// window, the bounded line splitter for a component's output, the SDK's definition
// check, and the component runtime (the child's side of the control interface) driven
// in-process: handlers called in order and never overlapped, results and refusals
// answered, notification errors logged rather than fatal, SDK bounds thrown at the source.
import { describe, expect, it } from 'vitest';
import { afterCrash, backoffDelayMs, kNoCrashes, type BackoffOptions, type GiveUpOptions } from '../src/farm/components/host/component-backoff.js';
import { componentHostSettings, kComponentHostDefaults, type ComponentLogger } from '../src/farm/components/host/component-host-options.js';
import { checkComponentMessage, kPeerPayloadBytesMax, kValuesKeysMax } from '../src/farm/components/host/component-limits.js';
import type { ComponentToHost } from '../src/farm/components/host/component-protocol.js';
import { ComponentRuntime } from '../src/farm/components/host/component-runtime.js';
import { checkComponentSpec } from '../src/farm/components/host/component-spec.js';
import { LineSplitter } from '../src/farm/components/host/output-lines.js';
import { RateWindow } from '../src/farm/components/host/rate-window.js';
import { asComponentDefinition, defineComponent, type ComponentContext } from '../src/farm/components/sdk.js';
import type pino from 'pino';

const backoff: BackoffOptions = { initialMs: 500, maxMs: 30_000, factor: 2, resetAfterMs: 60_000 };
const giveUp: GiveUpOptions = { crashesMax: 3, windowMs: 10_000 };

describe('backoff', () => {
  it('doubles from initialMs and is capped at maxMs', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffDelayMs(n, backoff))).toEqual([500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
    expect(backoffDelayMs(10_000, backoff)).toBe(30_000);
  });

  it('starts a new row after resetAfterMs of healthy running', () => {
    let decision = afterCrash(kNoCrashes, 0, null, backoff, { crashesMax: 0, windowMs: 1 });
    decision = afterCrash(decision.history, 1000, 10, backoff, { crashesMax: 0, windowMs: 1 });
    expect(decision.delayMs).toBe(1000);
    decision = afterCrash(decision.history, 100_000, 60_000, backoff, { crashesMax: 0, windowMs: 1 });
    expect(decision.delayMs).toBe(500);
    expect(decision.history.crashesInRow).toBe(1);
    expect(decision.giveUp).toBe(false);
  });

  it('gives up after crashesMax crashes within the window, not when they are spread out', () => {
    let history = kNoCrashes;
    const at = (ms: number) => {
      const decision = afterCrash(history, ms, null, backoff, giveUp);
      history = decision.history;
      return decision.giveUp;
    };
    expect([at(0), at(6000), at(12_000), at(18_000)]).toEqual([false, false, false, false]);
    expect(history.crashTimesMs.length).toBeLessThanOrEqual(3);
    expect(at(19_000)).toBe(true);
  });
});

describe('message checks', () => {
  it('takes well-formed messages', () => {
    expect(checkComponentMessage({ type: 'values', values: { a: 1, b: 'x' } })).toMatchObject({ ok: true });
    expect(checkComponentMessage({ type: 'result', seq: 1, ok: true, status: { x: 1 } })).toMatchObject({ ok: true });
    expect(checkComponentMessage({ type: 'peer-send', payload: new Uint8Array(kPeerPayloadBytesMax) })).toMatchObject({ ok: true });
    expect(checkComponentMessage({ type: 'event', eventType: 'e', severity: 'warning', body: {} })).toMatchObject({ ok: true });
  });

  it('tells oversized from malformed', () => {
    const keys = Object.fromEntries(Array.from({ length: kValuesKeysMax + 1 }, (_, i) => [`k${i}`, i]));
    expect(checkComponentMessage({ type: 'values', values: keys })).toMatchObject({ ok: false, reason: 'oversized' });
    expect(checkComponentMessage({ type: 'peer-send', payload: new Uint8Array(kPeerPayloadBytesMax + 1) })).toMatchObject({ ok: false, reason: 'oversized' });
    expect(checkComponentMessage({ type: 'event', eventType: 'e', severity: 'info', body: { t: 'x'.repeat(5000) } })).toMatchObject({ ok: false, reason: 'oversized' });
    expect(checkComponentMessage({ type: 'values', values: { 'a b': 1 } })).toMatchObject({ ok: false, reason: 'malformed' });
    expect(checkComponentMessage({ type: 'values', values: { a: Infinity } })).toMatchObject({ ok: false, reason: 'malformed' });
    expect(checkComponentMessage({ type: 'values', values: [1] })).toMatchObject({ ok: false, reason: 'malformed' });
    expect(checkComponentMessage({ type: 'peer-send', payload: [1, 2] })).toMatchObject({ ok: false, reason: 'malformed' });
    expect(checkComponentMessage({ type: 'event', eventType: 'e', severity: 'fatal', body: {} })).toMatchObject({ ok: false, reason: 'malformed' });
    expect(checkComponentMessage({ type: 'result', seq: 'one', ok: true })).toMatchObject({ ok: false, reason: 'malformed' });
    expect(checkComponentMessage(null)).toMatchObject({ ok: false, reason: 'malformed' });
  });

  it('cuts long log messages rather than dropping them', () => {
    const check = checkComponentMessage({ type: 'log', level: 'info', message: 'x'.repeat(10_000) });
    expect(check.ok).toBe(true);
    expect(check.ok && check.message.type === 'log' && check.message.message.length).toBe(2048);
  });
});

describe('options and specs', () => {
  it('fills defaults and names the bad field', () => {
    const settings = componentHostSettings({ nodeId: 'n', stateRoot: '/tmp/x', runnerPath: '/r.js' });
    expect(settings.backoff).toEqual(kComponentHostDefaults.backoff);
    expect(settings.controlTimeoutMs).toBe(5000);
    expect(() => componentHostSettings({ nodeId: 'n', stateRoot: '/tmp/x', backoff: { initialMs: 0 } })).toThrow('options.backoff.initialMs must be an integer >= 1');
    expect(() => componentHostSettings({ nodeId: 'n', stateRoot: '/tmp/x', backoff: { factor: 0.5 } })).toThrow(expect.objectContaining({ code: 'GALAXY_COMPONENT_BAD_OPTIONS' }));
    expect(() => componentHostSettings({ nodeId: '', stateRoot: '/tmp/x' })).toThrow(/nodeId/);
  });

  it('checks names, kinds, modules, memory and configs', () => {
    const ok = checkComponentSpec({ name: 'm-1', kind: 'measurement', module: '/a.js', config: { a: [1] } }, 128);
    expect(ok).toEqual({ name: 'm-1', kind: 'measurement', module: '/a.js', config: { a: [1] }, memoryMb: 128 });
    expect(Object.isFrozen(ok.config)).toBe(true);
    for (const bad of [{ name: 'A' }, { name: 'a/b' }, { kind: '' }, { module: 'a.js' }, { memoryMb: 8 }, { config: { big: 'x'.repeat(70_000) } }]) {
      expect(() => checkComponentSpec({ name: 'm', kind: 'k', module: '/a.js', ...bad }, 128)).toThrow(expect.objectContaining({ code: 'GALAXY_COMPONENT_BAD_SPEC' }));
    }
  });

  it('accepts a pino logger', () => {
    const fits = (logger: pino.Logger): ComponentLogger => logger;
    expect(typeof fits).toBe('function');
  });
});

describe('rate window and output lines', () => {
  it('admits perSecondMax per second', () => {
    const rate = new RateWindow(3);
    expect([0, 1, 2, 3, 999].map((t) => rate.admit(t))).toEqual([true, true, true, false, false]);
    expect(rate.admit(1000)).toBe(true);
  });

  it('splits lines across chunks and cuts long ones, skipping their rest', () => {
    const lines: Array<[string, boolean]> = [];
    const splitter = new LineSplitter(8, (line, cut) => lines.push([line, cut]));
    splitter.push('ab');
    splitter.push('c\r\nde');
    splitter.push('f\n0123456789abcdef');
    splitter.push('ghij\nlast');
    splitter.end();
    expect(lines).toEqual([
      ['abc', false],
      ['def', false],
      ['01234567', true],
      ['last', false],
    ]);
  });
});

describe('SDK definitions', () => {
  it('refuses unknown handlers and non-functions', () => {
    expect(() => defineComponent({ stat() {} } as never)).toThrow(expect.objectContaining({ code: 'GALAXY_COMPONENT_BAD_DEFINITION', message: expect.stringContaining('"stat"') }));
    expect(() => asComponentDefinition({ start: 1 })).toThrow(/must be a function/);
    expect(() => asComponentDefinition(undefined)).toThrow(/default export/);
    expect(Object.isFrozen(defineComponent({ start() {} }))).toBe(true);
  });
});

describe('component runtime (in-process)', () => {
  const init = { name: 'c', kind: 'k', nodeId: 'n', stateDir: '/tmp', config: { tag: 'a' } };

  function runtimeOf(definition: object) {
    const sent: ComponentToHost[] = [];
    const runtime = new ComponentRuntime((m) => sent.push(m), async () => ({ default: definition }));
    const results = () => sent.filter((m) => m.type === 'result');
    return { runtime, sent, results };
  }

  async function settle(): Promise<void> {
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
  }

  it('runs handlers one at a time, in order, and answers each', async () => {
    const calls: string[] = [];
    let active = 0;
    const step = (name: string) => async () => {
      active++;
      expect(active).toBe(1);
      calls.push(name);
      await new Promise((resolve) => setTimeout(resolve, 5));
      active--;
    };
    const { runtime, results } = runtimeOf({ init: step('init'), start: step('start'), configure: step('configure'), stop: step('stop') });
    runtime.receive({ type: 'init', seq: 1, init });
    runtime.receive({ type: 'start', seq: 2 });
    runtime.receive({ type: 'configure', seq: 3, config: { tag: 'b' } });
    runtime.receive({ type: 'stop', seq: 4 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(calls).toEqual(['init', 'start', 'configure', 'stop']);
    expect(results()).toEqual([1, 2, 3, 4].map((seq) => ({ type: 'result', seq, ok: true })));
  });

  it('answers a refused configuration with its reason and keeps the old one', async () => {
    let context: ComponentContext | null = null;
    const { runtime, results } = runtimeOf({
      init(ctx: ComponentContext) {
        context = ctx;
      },
      configure(config: Record<string, unknown>) {
        if (config['tag'] === 'bad') throw new Error('no thanks');
      },
      status(ctx: ComponentContext) {
        return { tag: ctx.config['tag'] };
      },
    });
    runtime.receive({ type: 'init', seq: 1, init });
    runtime.receive({ type: 'configure', seq: 2, config: { tag: 'bad' } });
    runtime.receive({ type: 'configure', seq: 3, config: { tag: 'good' } });
    runtime.receive({ type: 'status', seq: 4 });
    await settle();
    expect(results()).toEqual([
      { type: 'result', seq: 1, ok: true },
      { type: 'result', seq: 2, ok: false, error: 'no thanks' },
      { type: 'result', seq: 3, ok: true },
      { type: 'result', seq: 4, ok: true, status: { tag: 'good' } },
    ]);
    expect(context!.config).toEqual({ tag: 'good' });
  });

  it('answers a start before init, and a module without a definition, with errors', async () => {
    const early = runtimeOf({});
    early.runtime.receive({ type: 'start', seq: 1 });
    await settle();
    expect(early.results()).toEqual([{ type: 'result', seq: 1, ok: false, error: 'the component is not initialised' }]);
    const sent: ComponentToHost[] = [];
    const empty = new ComponentRuntime((m) => sent.push(m), async () => ({}));
    empty.receive({ type: 'init', seq: 1, init });
    await settle();
    expect(sent[0]).toMatchObject({ type: 'result', seq: 1, ok: false, error: expect.stringContaining('default export') });
  });

  it('logs a throwing peer handler instead of failing, and enforces the SDK bounds at the source', async () => {
    const { runtime, sent } = runtimeOf({
      peer(_from: string, payload: Uint8Array, ctx: ComponentContext) {
        if (payload[0] === 1) throw new Error('cannot parse');
        if (payload[0] === 2) ctx.sendPeers(new Uint8Array(kPeerPayloadBytesMax + 1));
        if (payload[0] === 3) ctx.postValues(Object.fromEntries(Array.from({ length: kValuesKeysMax + 1 }, (_, i) => [`k${i}`, i])));
        if (payload[0] === 4) ctx.postValues({ ok: 1 });
      },
    });
    runtime.receive({ type: 'init', seq: 1, init });
    for (const b of [1, 2, 3, 4]) runtime.receive({ type: 'peer', from: 'x', payload: new Uint8Array([b]) });
    await settle();
    const logs = sent.filter((m) => m.type === 'log').map((m) => (m.type === 'log' ? m.message : ''));
    expect(logs).toEqual([
      'the peer handler threw: cannot parse',
      expect.stringContaining('peer payload of 1025 bytes'),
      expect.stringContaining(`values have ${kValuesKeysMax + 1} keys`),
    ]);
    expect(sent.filter((m) => m.type === 'values')).toEqual([{ type: 'values', values: { ok: 1 } }]);
  });

  it('ignores malformed host messages', async () => {
    const { runtime, sent } = runtimeOf({});
    runtime.receive({ type: 'launch' });
    runtime.receive({ type: 'configure', seq: 1, config: 'x' });
    await settle();
    expect(sent.every((m) => m.type === 'log')).toBe(true);
    expect(sent).toHaveLength(2);
  });
});
