/**
 * A TCP proxy on loopback (node:net, no dependency) that can stall: while stalled it
 * forwards nothing in either direction — bytes read from either side are held, in order,
 * and delivered on release — so both ends see silence, not a closed connection (a network
 * partition, not a crash). `stallOn(pattern)` arms it to stall by itself at the first
 * client→server chunk that contains `pattern` (that chunk is held too): the stall hits a
 * chosen point of the protocol (e.g. the first write to one collection) instead of a
 * moment chosen by a timer. `cutOn(pattern)` instead drops that connection there (both
 * sockets destroyed, the chunk never delivered): a server dying mid-request.
 */
import net from 'node:net';
import { once } from 'node:events';

export class StallProxy {
  /** When the current stall began (undefined while forwarding). */
  stalledAt: number | undefined;
  private readonly sockets = new Set<net.Socket>();
  private held: Array<() => void> = [];
  private trigger: { pattern: Buffer; then: () => void; cut: boolean } | undefined;

  private constructor(
    private readonly server: net.Server,
    readonly targetPort: number,
  ) {}

  static async start(targetPort: number): Promise<StallProxy> {
    const server = net.createServer();
    const proxy = new StallProxy(server, targetPort);
    server.on('connection', (client) => proxy.pair(client));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return proxy;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  get stalled(): boolean {
    return this.stalledAt !== undefined;
  }

  /** Connections open through the proxy now. */
  get connections(): number {
    return this.sockets.size / 2;
  }

  /** Stop forwarding now. */
  stall(): void {
    this.stalledAt ??= Date.now();
  }

  /** Stall at the first client→server chunk containing `pattern`; `then` runs at that moment. */
  stallOn(pattern: string, then: () => void = () => undefined): void {
    this.trigger = { pattern: Buffer.from(pattern), then, cut: false };
  }

  /** Drop the connection that sends the first client→server chunk containing `pattern`, without delivering it. */
  cutOn(pattern: string, then: () => void = () => undefined): void {
    this.trigger = { pattern: Buffer.from(pattern), then, cut: true };
  }

  /** Deliver what was held, in order, and forward again. */
  release(): void {
    this.stalledAt = undefined;
    const held = this.held;
    this.held = [];
    for (const deliver of held) deliver();
  }

  async close(): Promise<void> {
    this.release();
    for (const s of this.sockets) s.destroy();
    this.server.close();
    await once(this.server, 'close');
  }

  private pair(client: net.Socket): void {
    const upstream = net.connect(this.targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        this.sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    this.forward(client, upstream, true);
    this.forward(upstream, client, false);
  }

  private forward(from: net.Socket, to: net.Socket, toServer: boolean): void {
    from.on('data', (chunk: Buffer) => {
      const t = this.trigger;
      if (toServer && t && !this.stalled && chunk.includes(t.pattern)) {
        this.trigger = undefined;
        t.then();
        if (t.cut) {
          from.destroy();
          to.destroy();
          return;
        }
        this.stall();
      }
      if (this.stalled) this.held.push(() => to.write(chunk));
      else to.write(chunk);
    });
  }
}
