// Portico in a cluster with a real Node socket.io 4 server running
// `@socket.io/redis-adapter`, on one real redis-server, plus a real
// `@socket.io/redis-emitter`: the wire format is Node's, so each side sees the other's
// broadcasts, room operations and sockets.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import { Emitter } from "@socket.io/redis-emitter";
import { startServer, once } from "./lib/server.mjs";
import { startRedis, startNodePeer, waitReady, eventually } from "./lib/cluster.mjs";
import { Clients, record } from "./lib/deploy.mjs";
import { sign, now } from "./lib/jwt.mjs";

const SECRET = "cluster-e2e-secret";
const API_KEY = "cluster-e2e-operator-key-0123456789";

// Both wires: `redis` next to `@socket.io/redis-adapter` (and the emitter, which only
// speaks pub/sub), `redis-streams` next to `@socket.io/redis-streams-adapter` 0.3.
for (const wire of ["redis", "redis-streams"]) describe(`Portico next to a Node socket.io node, on one Redis (adapter = "${wire}")`, () => {
  let redis, portico, node, emitterClient, emitter;
  const pubsubOnly = wire === "redis" ? test : test.skip;
  const clients = new Clients();

  before(async () => {
    redis = await startRedis();
    portico = await startServer(
      `
[cluster]
adapter = "${wire}"
redis_url = "${redis.url}"
[auth]
secret = "\${JWT_SECRET}"
[api]
key = "${API_KEY}"
[namespaces."/"]
handler = "echo"
[namespaces."/secure"]
handler = "echo"
auth = "required"
`,
      { env: { JWT_SECRET: SECRET } },
    );
    node = await startNodePeer(redis.url, { namespaces: ["/", "/secure"], wire });
    await waitReady(portico.url);
    emitterClient = createClient({ url: redis.url });
    await emitterClient.connect();
    emitter = new Emitter(emitterClient);
  });

  after(async () => {
    clients.closeAll();
    await emitterClient?.quit();
    await node?.close();
    await portico?.stop();
    await redis?.stop();
  });

  /** A Portico client and a Node client, each in `room`, plus a Portico client outside. */
  async function trio(room) {
    const p = await clients.connect(portico.url);
    const n = await clients.connect(node.url);
    const outsider = await clients.connect(portico.url);
    await Promise.all([p.emitWithAck("join", room), n.emitWithAck("join", room)]);
    return { p, n, outsider, logs: [record(p), record(n), record(outsider)] };
  }

  /** Relays `fence` to the whole namespace from `via` and waits until every socket has it:
   * whatever was published before has then been delivered, so "nothing else came" holds. */
  async function fence(via, sockets) {
    const got = sockets.map((s) => once(s, "fence"));
    await via.emitWithAck("relay", { event: "fence" });
    await Promise.all(got);
  }

  test("a room broadcast from either side reaches the room's clients on both, once", async () => {
    const { p, n, outsider, logs } = await trio("r1");
    const [pl, nl, ol] = logs;
    // Node's second broadcast only after both clients have the first: two senders on two
    // nodes have no order between them otherwise (p's ack says Portico published, not that
    // Node has delivered), and the test once raced on exactly that.
    const first = Promise.all([once(p, "news"), once(n, "news")]);
    await p.emitWithAck("relay", { event: "news", to: "r1", args: ["from portico", 1] });
    await first;
    await n.emitWithAck("relay", { event: "news", to: "r1", args: ["from node", 2] });
    await fence(p, [p, n, outsider]);
    await fence(n, [p, n, outsider]);
    assert.deepEqual(pl.events("news"), [["from portico", 1], ["from node", 2]]);
    assert.deepEqual(nl.events("news"), [["from portico", 1], ["from node", 2]]);
    assert.deepEqual(ol.events("news"), [], "not in the room");
  });

  test("except-sender broadcasts skip only the sender, across nodes", async () => {
    const { p, n, logs } = await trio("r2");
    const [pl, nl] = logs;
    await p.emitWithAck("relay", { event: "hello", to: "r2", exceptSender: true, data: "p" });
    await n.emitWithAck("relay", { event: "hello", to: "r2", exceptSender: true, data: "n" });
    await fence(p, [p, n]);
    await fence(n, [p, n]);
    assert.deepEqual(pl.events("hello"), ["n"]);
    assert.deepEqual(nl.events("hello"), ["p"]);
  });

  test("binary arguments cross intact both ways", async () => {
    const { p, n } = await trio("r3");
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    const atNode = once(n, "file");
    await p.emitWithAck("relay", { event: "file", to: "r3", args: [{ name: "a.bin", body: bytes }, bytes] });
    const [meta, raw] = await atNode;
    assert.equal(meta.name, "a.bin");
    assert.deepEqual(Buffer.from(meta.body), bytes);
    assert.deepEqual(Buffer.from(raw), bytes);
    const atPortico = once(p, "file");
    await n.emitWithAck("relay", { event: "file", to: "r3", args: [bytes] });
    assert.deepEqual(Buffer.from(await atPortico), bytes);
  });

  test("Node's fetchSockets() lists Portico's sockets with their rooms and data.user", async () => {
    const sub = `u${Date.now()}`;
    const token = sign({ sub, username: "alice", exp: now() + 600 }, SECRET);
    const p = await clients.connect(`${portico.url}/secure`, { auth: { token } });
    await p.emitWithAck("join", "vip");
    const sockets = await node.io.of("/secure").in("vip").fetchSockets();
    assert.equal(sockets.length, 1);
    const [s] = sockets;
    assert.equal(s.id, p.id);
    assert.deepEqual([...s.rooms].sort(), [p.id, `user:${sub}`, "vip"].sort());
    assert.equal(s.data.user.sub, sub);
    assert.equal(s.data.user.username, "alice");
    assert.deepEqual(s.handshake.auth, { token });
  });

  test("Portico's /api/v1/sockets lists Node's sockets (fetchSockets across nodes)", async () => {
    const n = await clients.connect(node.url);
    await n.emitWithAck("join", "lobby");
    const p = await clients.connect(portico.url);
    await p.emitWithAck("join", "lobby");
    const res = await fetch(`${portico.url}/api/v1/sockets?room=lobby`, {
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    assert.equal(res.status, 200);
    const body = await res.json();
    const ids = body.sockets.map((s) => s.id).sort();
    assert.deepEqual(ids, [n.id, p.id].sort());
    const fromNode = body.sockets.find((s) => s.id === n.id);
    assert.ok(fromNode.rooms.includes("lobby"));
    assert.equal(typeof fromNode.handshake.headers, "object");
  });

  test("socketsJoin from either side moves sockets on the other", async () => {
    const p = await clients.connect(portico.url);
    const n = await clients.connect(node.url);
    // From Node: Portico's socket joins "moved-by-node".
    await node.io.in(p.id).socketsJoin("moved-by-node");
    await eventually(async () => (await p.emitWithAck("rooms")).rooms.includes("moved-by-node"), 5000, "the join");
    // From Portico (the echo handler's `sockets-join`): Node's socket joins.
    await p.emitWithAck("sockets-join", { to: n.id, rooms: ["moved-by-portico"] });
    await eventually(() => node.io.of("/").sockets.get(n.id)?.rooms.has("moved-by-portico"), 5000, "the join");
    // And leave again.
    await node.io.in(p.id).socketsLeave("moved-by-node");
    await eventually(async () => !(await p.emitWithAck("rooms")).rooms.includes("moved-by-node"), 5000, "the leave");
  });

  test("Node's broadcast with acks reaches Portico's clients and collects their answers", async () => {
    const { p, n } = await trio("askers");
    p.on("question", (x, cb) => cb({ from: "portico", x }));
    n.on("question", (x, cb) => cb({ from: "node", x }));
    const answers = await node.io.timeout(3000).to("askers").emitWithAck("question", 41);
    assert.deepEqual(
      answers.sort((a, b) => a.from.localeCompare(b.from)),
      [{ from: "node", x: 41 }, { from: "portico", x: 41 }],
    );
  });

  test("disconnectSockets from Node disconnects Portico's sockets", async () => {
    const p = await clients.connect(portico.url);
    await p.emitWithAck("join", "doomed");
    const gone = once(p, "disconnect");
    node.io.in("doomed").disconnectSockets();
    const [reason] = await gone;
    assert.equal(reason, "io server disconnect");
  });

  test("Node's serverSideEmit reaches Portico's handler, which answers its acknowledgement", async () => {
    const p = await clients.connect(portico.url);
    const n = await clients.connect(node.url);
    const [pl, nl] = [record(p), record(n)];
    // The echo handler hands a server event to this node's clients and answers with
    // its arguments; Node's server (no listener) neither relays nor answers.
    const atPortico = once(p, "config-changed");
    node.io.serverSideEmit("config-changed", { v: 2 }, "x");
    assert.deepEqual(await atPortico, [{ v: 2 }, "x"]);
    const answers = await node.io.serverSideEmitWithAck("ping", 41);
    assert.deepEqual(answers, [[41]], "one answer, Portico's");
    await fence(p, [p, n]);
    assert.deepEqual(pl.events("config-changed"), [[{ v: 2 }, "x"]], "once");
    assert.deepEqual(nl.events("config-changed"), [], "Node does not run its own server events");
  });

  test("server events run on Portico in the order they were sent", async () => {
    const p = await clients.connect(portico.url);
    const pl = record(p);
    const all = eventually(() => pl.events("tick").length === 50, 5000, "50 ticks");
    for (let i = 0; i < 50; i++) node.io.serverSideEmit("tick", i);
    await all;
    assert.deepEqual(pl.events("tick"), Array.from({ length: 50 }, (_, i) => i));
  });

  pubsubOnly("a @socket.io/redis-emitter serverSideEmit reaches Portico's handler and Node's listeners", async () => {
    const p = await clients.connect(portico.url);
    const heardByNode = new Promise((r) => node.io.of("/").once("reload", (...args) => r(args)));
    const atPortico = once(p, "reload");
    emitter.serverSideEmit("reload", { plugin: "chat" });
    assert.deepEqual(await atPortico, { plugin: "chat" });
    assert.deepEqual(await heardByNode, [{ plugin: "chat" }]);
  });

  pubsubOnly("a @socket.io/redis-emitter script reaches the clients of both nodes", async () => {
    const { p, n, outsider, logs } = await trio("e1");
    const [pl, nl, ol] = logs;
    const got = [once(p, "pushed"), once(n, "pushed")];
    emitter.to("e1").emit("pushed", { n: 1 }, Buffer.from([9, 8]));
    const [[pa, pb], [na, nb]] = await Promise.all(got);
    assert.deepEqual([pa, [...Buffer.from(pb)]], [{ n: 1 }, [9, 8]]);
    assert.deepEqual([na, [...Buffer.from(nb)]], [{ n: 1 }, [9, 8]]);
    // The emitter's room operations (JSON, no uid).
    emitter.in("e1").socketsJoin("e2");
    await eventually(async () => (await p.emitWithAck("rooms")).rooms.includes("e2"), 5000, "emitter join");
    const again = [once(p, "second"), once(n, "second")];
    emitter.to("e2").emit("second");
    await Promise.all(again);
    await fence(p, [p, n, outsider]);
    assert.deepEqual(ol.events("pushed"), []);
    assert.equal(pl.events("pushed").length, 1, "exactly once");
    assert.equal(nl.events("pushed").length, 1, "exactly once");
  });
});
