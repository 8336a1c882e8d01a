import type { Socket } from 'node:net';
import type { ServerResponse } from 'node:http';

/**
 * After a 503 refusal, the connection it came on is not read again for a while: at most
 * `pauseMs`, and never longer than the Retry-After the refusal gave, so a client that honours
 * Retry-After never meets the pause. A client that retries at once (a load generator, a naive
 * retry loop, a thousand of them) has its next request wait in the kernel's socket buffer, where
 * it costs the server thread nothing, instead of being read, parsed and refused again.
 *
 * Why: a refusal costs the server thread about a third of what a served small-model request does
 * (docs/reliability.md, "What a refusal costs"), so with 1,000 connections retrying at once the
 * thread spent most of its time refusing (0.28-0.35 of capacity served). Holding the refused
 * connections back leaves it to the connections that were admitted (0.87 with 1,000 ms).
 *
 * While the server drains, refusals say `Connection: close` and nothing is held back: release(),
 * called as the drain begins, reads every held connection at once, so its pending request is
 * answered (with `Connection: close`) instead of being cut off when the listener's grace ends,
 * and holds none from then on.
 */
export class RefusalPause {
  private readonly held = new Map<Socket, { timer: NodeJS.Timeout; onResume: () => void; onClose: () => void }>();
  private released = false;

  constructor(private readonly pauseMs: number) {}

  /** Connections not being read now because of a refusal. */
  get heldConnections(): number {
    return this.held.size;
  }

  /** How long a connection refused with this Retry-After is not read (0: not held). */
  pauseFor(retryAfterSeconds: number): number {
    if (this.released) return 0;
    return Math.max(0, Math.min(this.pauseMs, retryAfterSeconds * 1000));
  }

  /**
   * Holds the refused request's connection back, from now: its refusal is already written (or
   * queued to be), and reading is all that stops. At once, not after 'finish' or a turn of the
   * loop: with thousands of busy connections one poll phase of the event loop reads each of them
   * many times over (libuv polls again while every slot comes back full), and a client retrying
   * at once would be refused again in that same phase.
   */
  afterRefusal(response: ServerResponse, retryAfterSeconds: number): void {
    const ms = this.pauseFor(retryAfterSeconds);
    const socket = response.socket;
    if (ms === 0 || socket === null || socket.destroyed || this.held.has(socket)) return;
    socket.pause();
    // Node resumes the socket itself once the response has finished (it reads on to discard the
    // refused request's body): held back, it is paused again as soon as it resumes.
    const onResume = () => socket.pause();
    const onClose = () => this.forget(socket);
    socket.on('resume', onResume);
    socket.once('close', onClose);
    const timer = setTimeout(() => this.resume(socket), ms);
    timer.unref();
    this.held.set(socket, { timer, onResume, onClose });
  }

  /** Reads every held connection now, and holds none from here on (the drain). */
  release(): void {
    this.released = true;
    for (const socket of [...this.held.keys()]) this.resume(socket);
  }

  private resume(socket: Socket): void {
    this.forget(socket);
    if (!socket.destroyed) socket.resume();
  }

  private forget(socket: Socket): void {
    const hold = this.held.get(socket);
    if (hold === undefined) return;
    clearTimeout(hold.timer);
    socket.off('resume', hold.onResume);
    socket.off('close', hold.onClose);
    this.held.delete(socket);
  }
}
