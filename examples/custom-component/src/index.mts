// hello-peers: a farm service component written against the component SDK
// (`galaxy-farm/component`). It is told where its peers (the same kind on other nodes)
// run, calls each of them once a second through farm RPC (its own service
// `hello-peers.ping`), and posts what it measured into this node's row of the FMIDB:
// `peers` (how many the farm told it of), `answered` (how many answered the last round),
// `rttMsMax` (the slowest answer) and `greetedBy` (the peers whose greeting, sent to all
// peers by farm gossip, reached it). Read them with `galaxy values`.
//
// The SDK is imported for its types only, so the built module has no imports: an
// installed package runs from the node's package store, where `galaxy-farm` is not
// installed. Build with `tsc -p examples/custom-component`, then
// `galaxy packages add examples/custom-component` and
// `galaxy components install hello-peers@1.0.0 --nodes ID,...`.
import type { ComponentContext, ComponentDefinition, ComponentPeer } from 'galaxy-farm/component';

/** A round never waits longer than this for a peer. */
const kPingTimeoutMs = 2000;
/** More peers than this are pinged in turns, not all at once. */
const kPeersPerRoundMax = 64;

let peers: readonly ComponentPeer[] = [];
const greetedBy = new Set<string>();
let timer: NodeJS.Timeout | null = null;

async function pingRound(ctx: ComponentContext): Promise<void> {
  const round = peers.slice(0, kPeersPerRoundMax);
  const rtts = await Promise.all(
    round.map(async (peer) => {
      const sentMs = Date.now();
      try {
        const answer = (await ctx.call(peer.id, 'hello-peers.ping', { from: ctx.nodeId }, { timeoutMs: kPingTimeoutMs })) as { node?: unknown };
        return answer.node === peer.id ? Date.now() - sentMs : null;
      } catch {
        return null;
      }
    }),
  );
  const answered = rtts.filter((rtt): rtt is number => rtt !== null);
  ctx.postValues({ peers: peers.length, answered: answered.length, rttMsMax: answered.length === 0 ? -1 : Math.max(...answered), greetedBy: [...greetedBy].sort().join(',') });
}

function greet(ctx: ComponentContext): void {
  ctx.sendPeers(new TextEncoder().encode(JSON.stringify({ hello: ctx.nodeId })));
}

const component = {
  start(ctx) {
    const intervalMs = Number(ctx.config['pingIntervalMs'] ?? 1000);
    timer = setInterval(() => {
      greet(ctx);
      void pingRound(ctx);
    }, intervalMs);
    ctx.log.info(`hello-peers started on ${ctx.nodeId}, pinging every ${intervalMs} ms`);
  },
  stop() {
    if (timer !== null) clearInterval(timer);
  },
  membership(list, ctx) {
    peers = list;
    ctx.postValues({ peers: peers.length });
    greet(ctx);
  },
  peer(_from, payload) {
    const { hello } = JSON.parse(new TextDecoder().decode(payload)) as { hello?: unknown };
    if (typeof hello === 'string' && /^[0-9a-f]{16}$/.test(hello)) greetedBy.add(hello);
  },
  status() {
    return { peers: peers.length };
  },
  services: {
    // Answers who answered, so the caller knows it reached the node it meant.
    'hello-peers.ping': (_body, _from, ctx) => ({ node: ctx.nodeId }),
  },
} satisfies ComponentDefinition;

export default component;
