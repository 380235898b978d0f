/**
 * Baseline R0: a bare `ws` relay. A `send` is answered `sent` at once and
 * pushed to the peer's connections on this process; nothing is stored and
 * nothing crosses processes. Started by the bench: `PORT=… HEARTBEAT_SECONDS=…
 * node --import tsx bench/baselines/r0-relay.ts`.
 */
import { closeOnSignal, relayEnv, startRelay, type Relay } from './relay.js';

const relay: Relay = startRelay({
  ...relayEnv(),
  onSend(s) {
    s.reply(s.sent);
    relay.deliver(s.from.peerId, s.msg);
  },
});
closeOnSignal(() => relay.close());
