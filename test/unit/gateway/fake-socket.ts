/** Just enough of a `ws` socket for the gateway and its connections: it records what is sent and how it was closed. */
import { EventEmitter } from 'node:events';
import type { WebSocket } from 'ws';

export class FakeSocket extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  bufferedAmount = 0;
  readonly sent: string[] = [];
  closedWith: number | undefined;
  send(data: string) {
    this.sent.push(data);
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
