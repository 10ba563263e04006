// End-to-end tests: the real socket.io-client v4 against the portico binary.
//
// Every describe starts its own server (so broadcasts from one group never reach
// another) and every client is tracked and closed in after/afterEach hooks.
// "Did not receive" is proven with a barrier: after the command under test is
// acked, a marker is relayed to the whole namespace; a socket's own connection is
// FIFO, so anything it was going to get from the earlier command arrives before
// the marker.
import { describe, it, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { io } from "socket.io-client";
import { startServer, once, sleep } from "./lib/server.mjs";

// ---------------------------------------------------------------- helpers

/** Every client created by a test, disconnected in afterEach/after. */
const clients = new Set();

function closeAll() {
  for (const s of clients) {
    s.disconnect();
    s.io?.engine?.close();
  }
  clients.clear();
}

/** Creates a client (on its own Manager unless `shared: true`) and tracks it. */
function client(url, opts = {}) {
  const { shared = false, ...rest } = opts;
  const s = io(url, { forceNew: !shared, reconnection: false, timeout: 5000, ...rest });
  clients.add(s);
  return s;
}

/** Resolves when `s` is connected; rejects on connect_error or after `ms`. */
function connected(s, ms = 5000) {
  if (s.connected) return Promise.resolve(s);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error("timed out waiting for connect"));
    }, ms);
    const onConnect = () => {
      cleanup();
      resolve(s);
    };
    const onError = (err) => {
      cleanup();
      reject(err);
    };
    const cleanup = () => {
      clearTimeout(timer);
      s.off("connect", onConnect);
      s.off("connect_error", onError);
    };
    s.on("connect", onConnect);
    s.on("connect_error", onError);
  });
}

/** Creates and connects a client. */
async function connect(url, opts = {}) {
  return connected(client(url, opts));
}

/**
 * Records every event `s` receives as {event, args}. `log.until(pred)` resolves with
 * the first entry matching `pred` (already recorded or arriving later).
 */
function record(s) {
  const log = [];
  const waiters = new Set();
  s.onAny((event, ...args) => {
    log.push({ event, args });
    for (const w of waiters) w();
  });
  log.until = (pred, ms = 5000, what = "event") =>
    new Promise((resolve, reject) => {
      const check = () => {
        const hit = log.find(pred);
        if (!hit) return false;
        cleanup();
        resolve(hit);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(log.map((e) => e.event))}`));
      }, ms);
      const cleanup = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      if (!check()) waiters.add(check);
    });
  log.of = (event) => log.filter((e) => e.event === event);
  return log;
}

/**
 * Relays a unique marker from `sender` to the whole namespace and waits until every
 * log in `logs` has it. Afterwards each log holds everything relayed before.
 */
async function barrier(sender, logs) {
  const token = randomUUID();
  assert.deepEqual(await sender.timeout(5000).emitWithAck("relay", { event: "marker", data: token }), { ok: true });
  await Promise.all(logs.map((l) => l.until((e) => e.event === "marker" && e.args[0] === token, 5000, `marker ${token}`)));
}

/**
 * Emits with an ack and resolves with ALL the ack arguments (emitWithAck only
 * resolves with the first); rejects after `ms` without an ack.
 */
function ack(s, event, ...args) {
  return ackWithin(5000, s, event, ...args);
}

function ackWithin(ms, s, event, ...args) {
  return new Promise((resolve, reject) => {
    s.timeout(ms).emit(event, ...args, (err, ...answer) => (err ? reject(err) : resolve(answer)));
  });
}

/** Resolves with the reason of the next "disconnect" of `s`. */
function nextDisconnect(s, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("timed out waiting for disconnect")), ms);
    s.once("disconnect", (reason) => {
      clearTimeout(timer);
      resolve(reason);
    });
  });
}

/** Resolves once the engine of `s` runs over websocket (waits for "upgrade" if needed). */
function upgraded(s, ms = 5000) {
  const engine = s.io.engine;
  if (engine.transport?.name === "websocket") return Promise.resolve();
  return once(engine, "upgrade", ms);
}

/** The bytes of a received binary value; fails if it is not binary. */
function bytes(v) {
  if (Buffer.isBuffer(v)) return Buffer.from(v);
  if (v instanceof ArrayBuffer) return Buffer.from(new Uint8Array(v));
  if (ArrayBuffer.isView(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  assert.fail(`expected binary, got ${JSON.stringify(v)}`);
}

function pattern(n, seed = 0) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

const MULTI_NS = `
[namespaces."/"]
handler = "echo"
[namespaces."/chat"]
handler = "echo"
[namespaces."/silent"]
handler = "none"
`;

// ---------------------------------------------------------------- transports

describe("transports", () => {
  let srv;
  before(async () => (srv = await startServer("")));
  after(async () => {
    closeAll();
    await srv.stop();
  });
  afterEach(closeAll);

  /** Ack round trip, echo and a broadcast relayed by another client. */
  async function exercise(a, transportName) {
    const log = record(a);
    const args = ["hello", 42, { nested: [1, "x", null, true] }];
    assert.deepEqual(await a.timeout(5000).emitWithAck("single", { k: [1, "v"] }), { k: [1, "v"] });
    assert.deepEqual(await ack(a, "roundtrip", ...args), args);

    a.emit("echo-me", "ping", { n: 7 });
    const echoed = await log.until((e) => e.event === "echo-me", 5000, "echo-me");
    assert.deepEqual(echoed.args, ["ping", { n: 7 }]);

    const b = await connect(srv.url, { transports: [transportName] });
    const token = randomUUID();
    assert.deepEqual(
      await b.timeout(5000).emitWithAck("relay", { event: "news", args: [token, { from: "b" }], exceptSender: true }),
      { ok: true },
    );
    const news = await log.until((e) => e.event === "news", 5000, "news");
    assert.deepEqual(news.args, [token, { from: "b" }]);
  }

  it("default transports: polling, upgrade to websocket, ack, echo, broadcast", async () => {
    const a = client(srv.url);
    const transports = [];
    a.io.on("open", () => transports.push(a.io.engine.transport.name));
    await connected(a);
    await upgraded(a);
    assert.deepEqual(transports, ["polling"], "the connection opens over polling");
    assert.equal(a.io.engine.transport.name, "websocket");
    await exercise(a, "websocket");
    assert.equal(a.io.engine.transport.name, "websocket");
  });

  it("websocket only", async () => {
    const a = await connect(srv.url, { transports: ["websocket"] });
    assert.equal(a.io.engine.transport.name, "websocket");
    await exercise(a, "websocket");
    assert.equal(a.io.engine.transport.name, "websocket");
  });

  it("polling only: ack and echo work, transport stays polling", async () => {
    const a = client(srv.url, { transports: ["polling"] });
    let upgrades = 0;
    a.io.engine.on("upgrade", () => upgrades++);
    await connected(a);
    assert.equal(a.io.engine.transport.name, "polling");
    await exercise(a, "polling");
    assert.equal(a.io.engine.transport.name, "polling");
    assert.equal(upgrades, 0);
  });
});

// ---------------------------------------------------------------- namespaces

describe("namespaces", () => {
  let srv;
  before(async () => (srv = await startServer(MULTI_NS)));
  after(async () => {
    closeAll();
    await srv.stop();
  });
  afterEach(closeAll);

  it("a relay in /chat reaches /chat sockets only; one manager multiplexes both", async () => {
    const root = client(srv.url, { shared: true });
    const chat = client(srv.url + "/chat", { shared: true });
    assert.equal(root.io, chat.io, "io(url) and io(url/chat) share a Manager");
    await Promise.all([connected(root), connected(chat)]);
    const chat2 = await connect(srv.url + "/chat");
    const rootLog = record(root);
    const chatLog = record(chat);
    const chat2Log = record(chat2);

    assert.deepEqual(await chat.timeout(5000).emitWithAck("relay", { event: "ns-msg", data: "for chat" }), { ok: true });
    const got = await chat2Log.until((e) => e.event === "ns-msg", 5000, "ns-msg on chat2");
    assert.deepEqual(got.args, ["for chat"]);

    // The / socket shares the connection with `chat`: a later marker on / proves order.
    await barrier(root, [rootLog]);
    await barrier(chat, [chatLog, chat2Log]);
    assert.deepEqual(rootLog.of("ns-msg"), [], "/ socket must not get /chat broadcasts");
    assert.deepEqual(chatLog.of("ns-msg").map((e) => e.args), [["for chat"]]);
    assert.deepEqual(chat2Log.of("ns-msg").map((e) => e.args), [["for chat"]]);

    // Acks are routed per namespace too.
    assert.deepEqual(await ack(root, "which", "root"), ["root"]);
    assert.deepEqual(await ack(chat, "which", "chat"), ["chat"]);
  });

  it("an unknown namespace yields connect_error 'Invalid namespace'", async () => {
    const s = client(srv.url + "/nope");
    const err = await once(s, "connect_error", 5000);
    assert.equal(err.message, "Invalid namespace");
    assert.equal(s.connected, false);
  });
});

// ---------------------------------------------------------------- acks

describe("acknowledgements", () => {
  let srv;
  before(async () => (srv = await startServer(MULTI_NS)));
  after(async () => {
    closeAll();
    await srv.stop();
  });
  afterEach(closeAll);

  it("client→server ack with mixed argument types", async () => {
    const s = await connect(srv.url);
    const args = [1, -2.5, "two", "", true, false, null, { three: [3, { four: "4" }] }, [], ["a", 1], { "ü": "ñ€😀" }];
    assert.deepEqual(await ack(s, "mixed", ...args), args);
  });

  it("server→client ack via request-ack", async () => {
    const s = await connect(srv.url);
    const seen = [];
    s.on("double", (x, cb) => {
      seen.push(x);
      cb(x * 2);
    });
    const result = once(s, "ack-result", 5000);
    s.emit("request-ack", { event: "double", args: [21] });
    assert.deepEqual(await result, { ok: [42] });
    assert.deepEqual(seen, [21]);
  });

  it("server→client ack times out when the client never acks", async () => {
    const s = await connect(srv.url);
    const seen = [];
    s.on("ignore-me", (...args) => seen.push(args.length));
    const result = once(s, "ack-result", 5000);
    const started = Date.now();
    s.emit("request-ack", { event: "ignore-me", args: ["x"], timeoutMs: 300 });
    assert.deepEqual(await result, { error: "no acknowledgement within the timeout" });
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 250, `ack-result came after ${elapsed} ms, before the 300 ms timeout`);
    // The client got the event with its argument plus an ack callback.
    assert.deepEqual(seen, [2]);
  });

  it("socket.timeout().emitWithAck resolves; rejects when the server never acks", async () => {
    const s = await connect(srv.url);
    assert.deepEqual(await s.timeout(500).emitWithAck("rooms"), { rooms: [s.id] });

    const silent = await connect(srv.url + "/silent");
    const started = Date.now();
    await assert.rejects(silent.timeout(200).emitWithAck("anything", 1), (err) => {
      assert.equal(err.message, "operation has timed out");
      return true;
    });
    assert.ok(Date.now() - started >= 190);
    assert.equal(silent.connected, true, "an unacked event does not disconnect");
  });
});

// ---------------------------------------------------------------- binary

describe("binary", () => {
  let srv;
  before(async () => (srv = await startServer("")));
  after(async () => {
    closeAll();
    await srv.stop();
  });
  afterEach(closeAll);

  for (const transports of [["websocket"], ["polling"]]) {
    it(`binary round trips over ${transports[0]}`, async () => {
      const s = await connect(srv.url, { transports });
      const log = record(s);
      const buf = pattern(4096, 1);
      const big = pattern(100_000, 2);
      const u8 = new Uint8Array(pattern(300, 3));
      const nested = () => ({ name: "n", blob: buf, inner: { u8, list: [1, pattern(17, 4), "s"] }, empty: Buffer.alloc(0) });

      // With ack: the ack carries the same bytes.
      const [ackBuf] = await ack(s, "bin", buf);
      assert.ok(bytes(ackBuf).equals(buf));
      const [ackBig] = await ack(s, "bin", big);
      assert.ok(bytes(ackBig).equals(big));
      const [obj, trailing] = await ack(s, "bin-nested", nested(), "tail");
      assert.equal(trailing, "tail");
      assert.equal(obj.name, "n");
      assert.ok(bytes(obj.blob).equals(buf));
      assert.ok(bytes(obj.inner.u8).equals(Buffer.from(u8)));
      assert.equal(obj.inner.list[0], 1);
      assert.ok(bytes(obj.inner.list[1]).equals(pattern(17, 4)));
      assert.equal(obj.inner.list[2], "s");
      assert.equal(bytes(obj.empty).length, 0);

      // Without ack: echoed back as the same event.
      s.emit("bin-echo", buf, "after");
      const echo = await log.until((e) => e.event === "bin-echo", 5000, "bin-echo");
      assert.equal(echo.args.length, 2);
      assert.ok(bytes(echo.args[0]).equals(buf));
      assert.equal(echo.args[1], "after");

      s.emit("bin-echo-nested", nested());
      const echo2 = await log.until((e) => e.event === "bin-echo-nested", 5000, "bin-echo-nested");
      const [o] = echo2.args;
      assert.ok(bytes(o.blob).equals(buf));
      assert.ok(bytes(o.inner.u8).equals(Buffer.from(u8)));
      assert.ok(bytes(o.inner.list[1]).equals(pattern(17, 4)));
      assert.equal(bytes(o.empty).length, 0);

      // Relayed binary stays binary for other sockets, on the other transport too.
      const other = await connect(srv.url, { transports: transports[0] === "polling" ? ["websocket"] : ["polling"] });
      const otherLog = record(other);
      assert.deepEqual(
        await s.timeout(5000).emitWithAck("relay", { event: "bin-relay", args: [buf, { u8 }], to: other.id }),
        { ok: true },
      );
      const rel = await otherLog.until((e) => e.event === "bin-relay", 5000, "bin-relay");
      assert.ok(bytes(rel.args[0]).equals(buf));
      assert.ok(bytes(rel.args[1].u8).equals(Buffer.from(u8)));
      assert.equal(s.io.engine.transport.name, transports[0]);
    });
  }
});

// ---------------------------------------------------------------- rooms

describe("rooms and broadcasts", () => {
  let srv;
  before(async () => (srv = await startServer("")));
  after(async () => {
    closeAll();
    await srv.stop();
  });
  afterEach(closeAll);

  it("to, except, leave and socket-id targeting", async () => {
    const [a, b, c, sender] = await Promise.all([0, 1, 2, 3].map(() => connect(srv.url, { transports: ["websocket"] })));
    const [la, lb, lc, ls] = [a, b, c, sender].map(record);
    const all = [la, lb, lc, ls];
    const got = (log, event) => log.of(event).map((e) => e.args);

    assert.deepEqual(await a.timeout(5000).emitWithAck("join", ["r1", "r2"]), { rooms: [a.id, "r1", "r2"].sort() });
    assert.deepEqual(await b.timeout(5000).emitWithAck("join", "r1"), { rooms: [b.id, "r1"].sort() });
    assert.deepEqual(await c.timeout(5000).emitWithAck("rooms"), { rooms: [c.id] });

    const relay = async (cmd) => assert.deepEqual(await sender.timeout(5000).emitWithAck("relay", cmd), { ok: true });

    // To r1: A and B, exactly once each.
    await relay({ event: "m1", data: 1, to: "r1" });
    // To r1 and r2: A is in both and still gets it once.
    await relay({ event: "m1b", data: 2, to: ["r1", "r2"] });
    // To r1 except r2: B only.
    await relay({ event: "m4", data: 4, to: "r1", except: "r2" });
    await barrier(sender, all);
    assert.deepEqual(got(la, "m1"), [[1]]);
    assert.deepEqual(got(lb, "m1"), [[1]]);
    assert.deepEqual(got(lc, "m1"), []);
    assert.deepEqual(got(ls, "m1"), []);
    assert.deepEqual(got(la, "m1b"), [[2]]);
    assert.deepEqual(got(lb, "m1b"), [[2]]);
    assert.deepEqual(got(lc, "m1b"), []);
    assert.deepEqual(got(la, "m4"), []);
    assert.deepEqual(got(lb, "m4"), [[4]]);
    assert.deepEqual(got(lc, "m4"), []);
    assert.deepEqual(got(ls, "m4"), []);

    // After B leaves r1, only A.
    assert.deepEqual(await b.timeout(5000).emitWithAck("leave", "r1"), { rooms: [b.id] });
    await relay({ event: "m2", data: 2, to: "r1" });
    // Whole namespace except r1: everyone but A (the sender included).
    await relay({ event: "m3", args: ["x", 3], except: "r1" });
    // To one socket id.
    await relay({ event: "m5", data: "just c", to: c.id });
    await barrier(sender, all);
    assert.deepEqual(got(la, "m2"), [[2]]);
    assert.deepEqual(got(lb, "m2"), []);
    assert.deepEqual(got(lc, "m2"), []);
    assert.deepEqual(got(la, "m3"), []);
    assert.deepEqual(got(lb, "m3"), [["x", 3]]);
    assert.deepEqual(got(lc, "m3"), [["x", 3]]);
    assert.deepEqual(got(ls, "m3"), [["x", 3]]);
    assert.deepEqual(got(la, "m5"), []);
    assert.deepEqual(got(lb, "m5"), []);
    assert.deepEqual(got(lc, "m5"), [["just c"]]);
    assert.deepEqual(got(ls, "m5"), []);

    // Each socket received its events in the order they were relayed.
    assert.deepEqual(
      la.map((e) => e.event).filter((e) => e !== "marker"),
      ["m1", "m1b", "m2"],
    );
  });

  it("exceptSender: the sender gets nothing, everyone else gets it before the marker", async () => {
    const [a, b, c] = await Promise.all([0, 1, 2].map(() => connect(srv.url, { transports: ["websocket"] })));
    const [la, lb, lc] = [a, b, c].map(record);
    assert.deepEqual(await a.timeout(5000).emitWithAck("relay", { event: "es", data: "hi", exceptSender: true }), { ok: true });
    await barrier(a, [la, lb, lc]);
    const order = (log) => log.map((e) => e.event);
    assert.deepEqual(order(la), ["marker"], "the sender must not get its own exceptSender relay");
    assert.deepEqual(order(lb), ["es", "marker"]);
    assert.deepEqual(order(lc), ["es", "marker"]);
    assert.deepEqual(lb[0].args, ["hi"]);
    assert.deepEqual(lc[0].args, ["hi"]);
  });
});

// ---------------------------------------------------------------- limits

describe("payload limit", () => {
  let srv;
  before(async () => (srv = await startServer("[engineio]\nmax_payload = 10000\n")));
  after(async () => {
    closeAll();
    await srv.stop();
  });
  afterEach(closeAll);

  for (const transports of [["websocket"], ["polling"]]) {
    it(`a ${transports[0]} message over max_payload disconnects only its sender`, async () => {
      const x = await connect(srv.url, { transports });
      const y = await connect(srv.url, { transports: ["websocket"] });
      // Under the limit is fine.
      const small = "s".repeat(5000);
      assert.deepEqual(await ack(x, "small", small), [small]);

      const gone = nextDisconnect(x);
      x.emit("big", "b".repeat(20_000));
      const reason = await gone;
      assert.ok(["transport close", "transport error"].includes(reason), `disconnect reason: ${reason}`);
      assert.equal(x.connected, false);

      assert.ok(srv.alive(), "server must stay up");
      assert.deepEqual(await ack(y, "still-there", 1, "two"), [1, "two"]);
      const z = await connect(srv.url, { transports });
      assert.deepEqual(await ack(z, "new", true), [true]);
    });
  }
});

// ---------------------------------------------------------------- reconnection

describe("reconnection", () => {
  let srv;
  before(async () => (srv = await startServer("")));
  after(async () => {
    closeAll();
    await srv.stop();
  });
  afterEach(closeAll);

  for (const transports of [undefined, ["websocket"], ["polling"]]) {
    it(`reconnects by itself after drop-transport (${transports ? transports[0] : "default"})`, async () => {
      const s = await connect(srv.url, {
        ...(transports ? { transports } : {}),
        reconnection: true,
        reconnectionDelay: 100,
        reconnectionDelayMax: 200,
      });
      if (!transports) await upgraded(s);
      const firstId = s.id;
      assert.deepEqual(await ack(s, "before", 1), [1]);

      const disconnected = nextDisconnect(s);
      const reconnected = once(s.io, "reconnect", 10_000);
      s.emit("drop-transport");
      const reason = await disconnected;
      assert.ok(["transport close", "transport error"].includes(reason), `disconnect reason: ${reason}`);
      const attempts = await reconnected;
      assert.ok(attempts >= 1);
      await connected(s, 5000);
      assert.equal(s.connected, true);
      assert.notEqual(s.id, firstId, "a new session has a new socket id");
      assert.deepEqual(await ack(s, "after", "ok", 2), ["ok", 2]);
    });
  }

  it("disconnect-me: server-side namespace disconnect, no reconnection", async () => {
    const s = await connect(srv.url, { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 200 });
    const disconnected = nextDisconnect(s);
    s.emit("disconnect-me");
    assert.equal(await disconnected, "io server disconnect");
    assert.equal(s.connected, false);
    assert.equal(s.active, false, "io server disconnect is not retried automatically");
  });
});

// ---------------------------------------------------------------- scale

describe("500 concurrent clients", () => {
  let srv;
  before(async () => (srv = await startServer("")));
  after(async () => {
    closeAll();
    await srv.stop();
  });

  it("every client gets every relayed message exactly once and in order", { timeout: 60_000 }, async () => {
    const N_CLIENTS = 500;
    const N_MSGS = 20;
    const BATCH = 50;
    const received = [];
    const ends = [];
    const sockets = [];
    for (let start = 0; start < N_CLIENTS; start += BATCH) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(BATCH, N_CLIENTS - start) }, async (_, k) => {
          const i = start + k;
          const s = client(srv.url, { transports: ["websocket"], timeout: 10_000 });
          received[i] = [];
          s.on("seq", (n) => received[i].push(n));
          ends[i] = new Promise((resolve) => s.once("end", resolve));
          await connected(s, 10_000);
          const { rooms } = await s.timeout(10_000).emitWithAck("join", "big");
          assert.deepEqual(rooms, [s.id, "big"].sort());
          return s;
        }),
      );
      sockets.push(...batch);
    }
    assert.equal(new Set(sockets.map((s) => s.id)).size, N_CLIENTS, "distinct sessions");

    const sender = await connect(srv.url, { transports: ["websocket"] });
    const senderGot = [];
    sender.on("seq", (n) => senderGot.push(n));
    for (let n = 0; n < N_MSGS; n++) {
      assert.deepEqual(await sender.timeout(10_000).emitWithAck("relay", { event: "seq", data: n, to: "big" }), { ok: true });
    }
    assert.deepEqual(await sender.timeout(10_000).emitWithAck("relay", { event: "end", to: "big" }), { ok: true });
    let timer;
    await Promise.race([
      Promise.all(ends),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error("not every client got the end marker within 20 s")), 20_000);
      }),
    ]).finally(() => clearTimeout(timer));

    const expected = Array.from({ length: N_MSGS }, (_, n) => n);
    const bad = received.map((r, i) => [i, r]).filter(([, r]) => JSON.stringify(r) !== JSON.stringify(expected));
    assert.deepEqual(bad.slice(0, 5), [], `${bad.length} clients got a wrong sequence`);
    assert.deepEqual(senderGot, [], "the sender is not in the room");
    assert.ok(sockets.every((s) => s.connected));
    assert.ok(srv.alive());
  });
});

// ---------------------------------------------------------------- heartbeat

describe("heartbeat", () => {
  let srv;
  before(
    async () => (srv = await startServer("[engineio]\nping_interval_ms = 200\nping_timeout_ms = 200\n")),
  );
  after(async () => {
    closeAll();
    await srv.stop();
  });

  it("clients stay connected across many short ping intervals", async () => {
    const variants = [undefined, ["websocket"], ["polling"]];
    const state = variants.map((transports) => {
      const s = client(srv.url, transports ? { transports } : {});
      const st = { s, name: transports ? transports[0] : "default", pings: 0, disconnects: [], handshake: null };
      s.io.engine.on("handshake", (h) => (st.handshake = h));
      s.io.engine.on("ping", () => st.pings++);
      s.on("disconnect", (reason) => st.disconnects.push(reason));
      return st;
    });
    await Promise.all(state.map((st) => connected(st.s)));
    await upgraded(state[0].s);
    for (const st of state) {
      assert.equal(st.handshake.pingInterval, 200, `${st.name}: handshake pingInterval`);
      assert.equal(st.handshake.pingTimeout, 200, `${st.name}: handshake pingTimeout`);
    }
    // Waiting is the point here: 1.5 s is over 3 (interval + timeout) windows.
    await sleep(1500);
    for (const st of state) {
      assert.deepEqual(st.disconnects, [], `${st.name}: must stay connected`);
      assert.ok(st.pings >= 4, `${st.name}: only ${st.pings} pings in 1.5 s at a 200 ms interval`);
      assert.equal(st.s.connected, true);
      assert.deepEqual(await ackWithin(2000, st.s, "alive", st.name), [st.name]);
    }
  });
});
