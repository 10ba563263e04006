// Connection state recovery across nodes on `adapter = "redis-streams"`, with the real
// socket.io-client and one real redis-server: a client whose connection dies on one
// node reconnects to another and comes back as the same socket, with every message of
// a 1 000-message room stream exactly once and in order. Between Portico nodes, from
// Portico to a real Node socket.io server with `@socket.io/redis-streams-adapter` 0.3
// and back, and off a Portico node that is stopped (a rolling restart).
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import { startServer, once } from "./lib/server.mjs";
import { startRedis, startNodePeer, waitReady, eventually } from "./lib/cluster.mjs";
import { MESSAGES, assertEveryMessageOnceInOrder, reconnecting, streamThroughACut, until } from "./lib/recovery.mjs";
import { metric } from "./lib/metrics.mjs";

const WINDOW_MS = 10_000;

const toml = (url) => `
[cluster]
adapter = "redis-streams"
redis_url = "${url}"
[socketio.recovery]
max_disconnection_ms = ${WINDOW_MS}
# The sender relays faster than the default event budget allows.
[limits]
events_per_second = 100000
event_burst = 100000
`;

/** A stream id, what every offset is on this wire. */
const ENTRY_ID = /^\d+-\d+$/;

describe("connection state recovery across nodes (adapter = redis-streams)", () => {
  let redis, a, b, node, raw;
  const made = [];
  const client = (server, opts) => {
    const s = reconnecting(server, opts);
    made.push(s);
    return s;
  };

  before(async () => {
    redis = await startRedis();
    [a, b] = await Promise.all([startServer(toml(redis.url)), startServer(toml(redis.url))]);
    await Promise.all([waitReady(a.url), waitReady(b.url)]);
    node = await startNodePeer(redis.url, {
      wire: "redis-streams",
      recovery: { maxDisconnectionDuration: WINDOW_MS, skipMiddlewares: true },
    });
    raw = createClient({ url: redis.url });
    await raw.connect();
  });

  after(async () => {
    made.forEach((s) => s.close());
    await raw?.quit();
    await node?.close();
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.stop();
  });

  /** Connects `s` and joins `room` through the echo command every server here speaks. */
  async function joined(s, room) {
    if (!s.connected) await once(s, "connect");
    const { rooms } = await s.emitWithAck("join", room);
    assert.ok(rooms.includes(room), `${rooms}`);
    return s;
  }

  /** Streams through a cut of `receiver` (on `from`), which comes back on `to`. */
  async function acrossNodes({ from, to, room, opts = { transports: ["websocket"] }, cut, senderOn = from }) {
    const sender = client(senderOn, { transports: ["websocket"] });
    const receiver = await joined(client(from, opts), room);
    if (!sender.connected) await once(sender, "connect");
    if (opts.transports[0] === "polling" && receiver.io.engine.transport.name !== "websocket") {
      await once(receiver.io.engine, "upgrade");
    }
    const first = receiver.id;
    const disconnects = [];
    receiver.on("disconnect", (reason) => disconnects.push(reason));
    const result = await streamThroughACut(sender, receiver, room, cut, { redirect: to.url });
    assert.ok(result.cutDone, "the connection was cut");
    assert.ok(result.replayed >= 1, `messages sent while it was away came back as it did: ${result.replayed}`);
    assert.equal(disconnects.length, 1, `${disconnects}`);
    assert.deepEqual(result.connects, [{ id: first, recovered: true }], "one reconnect, as the same socket");
    assertEveryMessageOnceInOrder(result.got);
    assert.ok(result.offsets.every((o) => ENTRY_ID.test(o)), "every offset is a stream entry id");
    assert.equal(new Set(result.offsets).size, MESSAGES, "offsets are unique");
    return { receiver, first };
  }

  const cuts = [
    { name: "the server drops the WebSocket", cut: (r) => r.emit("drop-transport") },
    { name: "the client's TCP connection dies", cut: (r) => r.io.engine.transport.ws._socket.destroy() },
    {
      name: "the connection dies after a polling → websocket upgrade",
      opts: { transports: ["polling", "websocket"] },
      cut: (r) => r.emit("drop-transport"),
    },
  ];
  for (const [i, c] of cuts.entries()) {
    it(`Portico → Portico, ${c.name}: same id, recovered, all ${MESSAGES} once and in order`, async () => {
      const room = `across-${i}`;
      const { receiver, first } = await acrossNodes({ from: a, to: b, room, opts: c.opts, cut: c.cut });
      const { rooms } = await receiver.emitWithAck("rooms");
      assert.deepEqual(rooms, [room, first].sort(), "its rooms are back, on the other node");
      // The session was taken: none is left in Redis to claim a second time.
      assert.equal(await raw.exists(`sio:session:${receiver._pid}`), 0);
    });
  }

  it("a session is stored as Node stores it, and a second claim of it gets a new session", async () => {
    const s = await joined(client(a, { transports: ["websocket"] }), "stored");
    const got = [];
    s.on("m", (n) => got.push(n));
    await s.emitWithAck("relay", { event: "m", args: [1], to: "stored" });
    await until(() => got.length === 1, "a message, for an offset");
    const { _pid: pid, _lastOffset: offset, id } = s;
    s.io.reconnection(false);
    s.io.engine.transport.ws._socket.destroy();
    await once(s, "disconnect");
    const key = `sio:session:${pid}`;
    await eventually(async () => (await raw.exists(key)) === 1, 5000, "the stored session");
    const ttl = await raw.pTTL(key);
    assert.ok(ttl > 0 && ttl <= WINDOW_MS, `PX within the window: ${ttl}`);
    // base64 of MessagePack {sid, pid, rooms, data}: what @socket.io/redis-streams-adapter reads.
    const stored = Buffer.from(await raw.get(key), "base64");
    const { decode } = await import("@msgpack/msgpack");
    const session = decode(stored);
    assert.equal(session.sid, id);
    assert.equal(session.pid, pid);
    assert.deepEqual([...session.rooms].sort(), [id, "stored"].sort());
    assert.deepEqual(session.data, {});
    const resume = (server) =>
      new Promise((resolve, reject) => {
        const c = client(server, { transports: ["websocket"], reconnection: false, auth: { pid, offset } });
        c.once("connect", () => resolve(c));
        c.once("connect_error", reject);
      });
    // (A fresh client sets `recovered` only for a pid it had itself: compare ids and
    // pids instead.)
    const [one, two] = [await resume(b), await resume(a)];
    assert.equal(one.id, id, "resumed on the other node");
    assert.equal(one._pid, pid);
    assert.notEqual(two.id, id, "taken already: a new session");
    assert.notEqual(two._pid, pid);
    const claimed = await metric(a.url, "portico_recoveries_total", { namespace: "/", outcome: "new_session" });
    assert.ok(claimed >= 1, `counted: ${claimed}`);
  });

  it(`Portico → Node: the Node server restores the session Portico stored and replays the stream`, async () => {
    const room = "to-node";
    const { receiver, first } = await acrossNodes({
      from: a,
      to: node,
      room,
      cut: (r) => r.io.engine.transport.ws._socket.destroy(),
    });
    const socket = node.io.of("/").sockets.get(first);
    assert.ok(socket, "the socket lives on the Node server now");
    assert.equal(socket.recovered, true);
    assert.deepEqual([...socket.rooms].sort(), [first, room].sort());
    receiver.close();
  });

  it(`Node → Portico: Portico restores the session the Node server stored and replays its own record of the stream`, async () => {
    const room = "from-node";
    const { receiver, first } = await acrossNodes({
      from: node,
      to: b,
      room,
      cut: (r) => r.io.engine.transport.ws._socket.destroy(),
    });
    const { rooms } = await receiver.emitWithAck("rooms");
    assert.deepEqual(rooms, [room, first].sort(), "the rooms Node stored");
  });

  it("a node started after the client's last packet reads what it missed from the stream", async () => {
    const room = "late-node";
    const sender = client(a, { transports: ["websocket"] });
    const receiver = await joined(client(a, { transports: ["websocket"], reconnection: false }), room);
    if (!sender.connected) await once(sender, "connect");
    const got = [];
    receiver.on("m", (n) => got.push(n));
    for (let n = 0; n < 100; n++) await sender.emitWithAck("relay", { event: "m", args: [n], to: room });
    await until(() => got.length === 100, "the first 100");
    const first = receiver.id;
    receiver.io.engine.transport.ws._socket.destroy();
    await once(receiver, "disconnect");
    for (let n = 100; n < 300; n++) await sender.emitWithAck("relay", { event: "m", args: [n], to: room });
    // This node starts reading the stream after all of them.
    const late = await startServer(toml(redis.url));
    try {
      await waitReady(late.url);
      const live = once(receiver, "connect");
      receiver.io.uri = late.url;
      receiver.connect();
      await live;
      assert.equal(receiver.id, first);
      assert.equal(receiver.recovered, true);
      await sender.emitWithAck("relay", { event: "m", args: [300], to: room });
      await until(() => got.length === 301, `301 messages (got ${got.length})`);
      assert.deepEqual(got, [...Array(301).keys()], "the stream's part, then live");
    } finally {
      receiver.close();
      await late.stop();
    }
  });

  it("a node that stops (a rolling restart) leaves its sessions for the others", async () => {
    const c = await startServer(toml(redis.url));
    await waitReady(c.url);
    const room = "rolling";
    const { receiver, first } = await acrossNodes({
      from: c,
      to: b,
      senderOn: a,
      room,
      cut: () => c.stop(),
    });
    const { rooms } = await receiver.emitWithAck("rooms");
    assert.deepEqual(rooms, [room, first].sort());
  });
});
