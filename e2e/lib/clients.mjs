// socket.io-client sockets made by one test file or test, all closed at once.
import { io } from "socket.io-client";
import { once } from "./server.mjs";

/**
 * A maker of clients of `server`: `client(nsp = "/", opts)` opens a new socket (no
 * reconnection, `defaults` then `opts`), `client.closeAll()` closes every one made.
 */
export function clients(server, defaults = { transports: ["websocket"] }) {
  const made = [];
  const client = (nsp = "/", opts = {}) => {
    const s = io(`${server.url}${nsp}`, { forceNew: true, reconnection: false, ...defaults, ...opts });
    made.push(s);
    return s;
  };
  client.closeAll = () => made.forEach((s) => s.close());
  return client;
}

/** Resolves with `s` once it is connected. */
export async function connected(s) {
  if (!s.connected) await once(s, "connect");
  return s;
}
