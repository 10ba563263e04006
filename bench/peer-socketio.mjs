// Reference peer: the Node socket.io v4 server with default options, implementing
// the part of Portico's built-in `echo` handler the benchmarks use, with the same
// wire-visible answers, so one client drives both servers.
//
//   node peer-socketio.mjs [PORT]      (0 or nothing = a free port)
//
// Prints `listening on 127.0.0.1:PORT` once it accepts connections, like
// `portico serve`. Binds to 127.0.0.1 only. Stops on SIGTERM/SIGINT.
//
// Events (namespace "/"):
// - `join` (room or [rooms]): joins, acks `{rooms: [...]}` (sorted, own id included).
// - `leave` (room): leaves, acks `{rooms: [...]}`; `rooms` acks the same.
// - `relay` ({event, args?, data?, to?, except?, exceptSender?}): emits `event` with
//   `args` (or `[data]`) to the namespace, or to the `to` rooms, minus the `except`
//   rooms and, with `exceptSender: true`, minus the sender; acks `{ok: true}` once the
//   packets are handed to the sockets (queued, not delivered).
// - anything else with an ack is acked with its own arguments; without one it is
//   emitted back to the sender.
import { createServer } from "node:http";
import { Server } from "socket.io";

const port = Number(process.argv[2] ?? 0);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`usage: node peer-socketio.mjs [PORT]   (got ${process.argv[2]})`);
  process.exit(2);
}

const httpServer = createServer();
const io = new Server(httpServer); // default options: polling + websocket, no CORS

const roomList = (value) =>
  typeof value === "string" ? [value] : Array.isArray(value) ? value.filter((r) => typeof r === "string") : [];
const roomsReply = (socket) => ({ rooms: [...socket.rooms].sort() });

io.on("connection", (socket) => {
  socket.onAny((name, ...rest) => {
    const ack = typeof rest.at(-1) === "function" ? rest.pop() : null;
    const first = rest[0];
    switch (name) {
      case "join":
        socket.join(roomList(first));
        ack?.(roomsReply(socket));
        return;
      case "leave":
        if (typeof first === "string") socket.leave(first);
        ack?.(roomsReply(socket));
        return;
      case "rooms":
        ack?.(roomsReply(socket));
        return;
      case "relay": {
        if (!first || typeof first.event !== "string") {
          ack?.({ error: 'relay needs {"event": "name"}' });
          return;
        }
        const args = Array.isArray(first.args) ? first.args : "data" in first ? [first.data] : [];
        let op = socket.nsp;
        const to = roomList(first.to);
        if (to.length) op = op.to(to);
        const except = roomList(first.except);
        if (first.exceptSender === true) except.push(socket.id);
        if (except.length) op = op.except(except);
        op.emit(first.event, ...args);
        ack?.({ ok: true });
        return;
      }
      default:
        if (ack) ack(...rest);
        else socket.emit(name, ...rest);
    }
  });
});

httpServer.listen(port, "127.0.0.1", () => {
  const { port: actual } = httpServer.address();
  console.log(`listening on 127.0.0.1:${actual}`);
});

const stop = () => {
  io.close();
  httpServer.close();
  // Open WebSockets may keep the loop alive; this is a benchmark peer, not a service.
  setTimeout(() => process.exit(0), 500).unref();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
