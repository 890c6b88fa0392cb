import { Messenger } from '../../src/node/messenger/messenger.js';

/**
 * Messengers linked in one process, for tests of the layers above the messenger (RPC,
 * install): what one sends by node id reaches the other's receive asynchronously, as
 * the agent worker would hand it over after opening the farm seal, with the sender's
 * address as a datagram's peer and `tcp#n` as a stream's. Every node joined is a
 * member in every other's directory, so the messenger's sender check runs for real.
 */
export class MessengerFabric {
  private readonly nodes = new Map<string, { id: string; address: string; messenger: Messenger }>();
  private connection = 0;

  join(peer: { readonly id: string; readonly address: string }): Messenger {
    const messenger = new Messenger({
      selfId: peer.id,
      membersMax: 1024,
      broadcastBytesMax: 1024,
      transport: {
        sendApp: (messages) => {
          for (const message of messages) {
            const bytes = message.bytes.slice();
            const from = message.stream ? `tcp#${++this.connection}` : peer.address;
            setImmediate(() => [...this.nodes.values()].find((n) => n.address === message.peer)?.messenger.receive([{ peer: from, bytes, stream: message.stream }]));
          }
        },
        broadcast: (payload) => {
          for (const node of this.nodes.values()) if (node.id !== peer.id) setImmediate(() => node.messenger.receiveBroadcast(payload.slice()));
        },
      },
    });
    for (const node of this.nodes.values()) {
      node.messenger.memberEvent({ type: 'join', id: peer.id, address: peer.address });
      messenger.memberEvent({ type: 'join', id: node.id, address: node.address });
    }
    this.nodes.set(peer.id, { ...peer, messenger });
    return messenger;
  }
}
