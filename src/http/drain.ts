import net from 'node:net';
import type { Server } from 'node:http';

/**
 * Closing the listener without resetting keep-alive connections. Node's `server.close()`
 * (which fastify's close calls) first destroys every idle keep-alive socket, so a client that
 * sends its next request on one at that moment sees a reset. Instead: while draining, every
 * answer says `Connection: close` (admission-hook.ts), so each connection ends cleanly after its
 * next response; this stops accepting new connections, then gives the open ones up to
 * `graceMs` to end that way before fastify's close destroys what is still idle.
 */
export class ConnectionDrain {
  private readonly open = new Set<net.Socket>();

  constructor(private readonly server: Server) {
    server.on('connection', (socket: net.Socket) => {
      this.open.add(socket);
      socket.once('close', () => this.open.delete(socket));
    });
  }

  get openConnections(): number {
    return this.open.size;
  }

  /** Stops accepting connections; resolves when none is open or after graceMs. */
  async closeListener(graceMs: number): Promise<void> {
    if (this.server.listening) {
      // net.Server's close, not http.Server's: it stops accepting and leaves open sockets alone.
      net.Server.prototype.close.call(this.server);
    }
    const deadline = performance.now() + graceMs;
    while (this.open.size > 0 && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(25, Math.max(1, deadline - performance.now()))));
    }
  }
}
