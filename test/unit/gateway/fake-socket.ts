/**
 * Just enough of a `ws` socket for the gateway and its connections: it
 * records what is sent, which frames went out in one write (corked on the
 * underlying socket), and how it was closed.
 */
import { EventEmitter } from 'node:events';
import type { WebSocket } from 'ws';

export class FakeSocket extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  bufferedAmount = 0;
  readonly sent: string[] = [];
  /** the frames of each write to the network: one each, unless the socket was corked */
  readonly writes: string[][] = [];
  closedWith: number | undefined;
  private corked = 0;
  /** the underlying net.Socket, as far as corking goes */
  readonly _socket = {
    cork: () => {
      if (this.corked++ === 0) this.writes.push([]);
    },
    uncork: () => {
      this.corked -= 1;
    },
  };
  send(data: string) {
    this.sent.push(data);
    if (this.corked > 0) this.writes.at(-1)!.push(data);
    else this.writes.push([data]);
  }
  ping() {}
  close(code: number) {
    if (this.readyState !== 1) return;
    this.readyState = 3;
    this.closedWith = code;
    this.emit('close', code);
  }
  terminate() {
    this.close(1006);
  }
  /** as the type the gateway takes */
  get ws(): WebSocket {
    return this as unknown as WebSocket;
  }
}
