// Benchmark peer: the Node socket.io v4 server, default options (path /socket.io/,
// pingInterval 25 s, pingTimeout 20 s, polling + websocket, maxHttpBufferSize 1 MB),
// offering the same events as bench/peers/socketioxide, so one load generator drives both.
//
//   node server.mjs [PORT]      (0 or nothing = a free port)
//   REDIS_URL=redis://… node server.mjs   (a cluster node: @socket.io/redis-adapter on it)
//   PER_MESSAGE_DEFLATE=1 node server.mjs (perMessageDeflate: {threshold: 1024})
//
// Binds to 127.0.0.1 only and prints `listening on 127.0.0.1:PORT` once it accepts
// connections. Stops on SIGTERM/SIGINT.
//
// Events on namespace "/":
// - `echo` (any JSON, with an ack): acks the payload unchanged.
// - `join` ({room}, with an ack): joins the room, acks {joined: room}.
// - `bcast` ({room, payload}): emits `msg` with `payload` to every socket in the room,
//   the sender included.
import { createServer } from "node:http";
import { Server } from "socket.io";

const port = Number(process.argv[2] ?? 0);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`usage: node server.mjs [PORT]   (got ${process.argv[2]})`);
  process.exit(2);
}

const httpServer = createServer();
// Default options, or permessage-deflate on as the compression scenario runs it.
const io = new Server(
  httpServer,
  process.env.PER_MESSAGE_DEFLATE === "1" ? { perMessageDeflate: { threshold: 1024 } } : {},
);
if (process.env.REDIS_URL) {
  const { createAdapter } = await import("@socket.io/redis-adapter");
  const { createClient } = await import("redis");
  const pub = createClient({ url: process.env.REDIS_URL });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  io.adapter(createAdapter(pub, sub));
}

io.on("connection", (socket) => {
  socket.on("echo", (data, ack) => {
    if (typeof ack === "function") ack(data);
  });
  socket.on("join", (data, ack) => {
    const room = data?.room;
    if (typeof room !== "string") return;
    socket.join(room);
    if (typeof ack === "function") ack({ joined: room });
  });
  socket.on("bcast", (data) => {
    const room = data?.room;
    if (typeof room !== "string") return;
    io.to(room).emit("msg", data.payload);
  });
});

httpServer.listen(port, "127.0.0.1", () => {
  const { port: actual } = httpServer.address();
  process.stdout.write(`listening on 127.0.0.1:${actual}\n`);
});

const stop = () => {
  io.close(() => process.exit(0)); // disconnects every socket, closes the HTTP server
  // Open WebSockets may hold the loop for their close handshake; don't wait for them.
  setTimeout(() => process.exit(0), 500).unref();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
