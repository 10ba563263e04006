// Connection state recovery on the real binary with the real socket.io-client: a
// client whose connection dies in the middle of a stream of room messages reconnects
// as the same socket (same id, `recovered`, its rooms) and receives every message
// exactly once, in order; past the window, or with an offset the server never gave,
// it is a new session. On a namespace that needs a token, `skip_middlewares` decides
// whether the reconnect's token is read again; a refused reconnect leaves the session
// waiting, and another user's token never resumes it. A plugin sees one socket: one
// on-connect, and its on-disconnect only once the socket is gone for good.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { io } from "socket.io-client";
import { startServer, once, sleep } from "./lib/server.mjs";
import {
  MESSAGES,
  assertEveryMessageOnceInOrder,
  reconnecting,
  streamThroughACut,
  until,
} from "./lib/recovery.mjs";
import { metric } from "./lib/metrics.mjs";
import { sign, now } from "./lib/jwt.mjs";

// The sender relays faster than the default event budget allows.
const CONFIG = `
[socketio.recovery]
max_disconnection_ms = 10000

[limits]
events_per_second = 100000
event_burst = 100000
`;

describe("connection state recovery", () => {
  let server;
  const made = [];
  const client = (opts) => {
    const s = reconnecting(server, opts);
    made.push(s);
    return s;
  };
  before(async () => {
    server = await startServer(CONFIG);
  });
  after(async () => {
    made.forEach((s) => s.close());
    await server.stop();
  });

  async function joined(s, room) {
    if (!s.connected) await once(s, "connect");
    const { rooms } = await s.emitWithAck("join", room);
    assert.ok(rooms.includes(room), `${rooms}`);
    return s;
  }

  const cases = [
    {
      name: "the server drops the WebSocket mid-stream",
      opts: { transports: ["websocket"] },
      cut: (r) => r.emit("drop-transport"),
    },
    {
      name: "the client's TCP connection dies mid-stream",
      opts: { transports: ["websocket"] },
      cut: (r) => r.io.engine.transport.ws._socket.destroy(),
    },
    {
      name: "the connection dies after a polling → websocket upgrade, and comes back through one",
      opts: { transports: ["polling", "websocket"] },
      upgrade: true,
      cut: (r) => r.emit("drop-transport"),
    },
  ];
  for (const [i, c] of cases.entries()) {
    it(`${c.name}: same id, recovered, every one of ${MESSAGES} messages once and in order`, async () => {
      const room = `stream-${i}`;
      const sender = client({ transports: ["websocket"] });
      const receiver = await joined(client(c.opts), room);
      if (!sender.connected) await once(sender, "connect");
      if (c.upgrade) {
        if (receiver.io.engine.transport.name !== "websocket") await once(receiver.io.engine, "upgrade");
      }
      const first = receiver.id;
      const disconnects = [];
      receiver.on("disconnect", (reason) => disconnects.push(reason));
      const upgrades = [];
      receiver.io.on("open", () => receiver.io.engine.on("upgrade", (t) => upgrades.push(t.name)));
      const { got, offsets, connects, cutDone, replayed } = await streamThroughACut(sender, receiver, room, c.cut);
      assert.ok(cutDone, "the connection was cut");
      assert.ok(replayed >= 1, `messages sent while it was away came back as it did: ${replayed}`);
      assert.equal(disconnects.length, 1, `${disconnects}`);
      assert.match(disconnects[0], /^transport (close|error)$/);
      assert.deepEqual(connects, [{ id: first, recovered: true }], "one reconnect, as the same socket");
      assertEveryMessageOnceInOrder(got);
      assert.ok(offsets.every((o) => typeof o === "string" && o.length > 0), "every message has its offset last");
      assert.equal(new Set(offsets).size, MESSAGES, "offsets are unique");
      const { rooms } = await receiver.emitWithAck("rooms");
      assert.deepEqual(rooms, [room, first].sort(), "its rooms are back");
      if (c.upgrade) {
        await until(() => receiver.io.engine.transport.name === "websocket", "the upgrade after reconnecting");
        assert.deepEqual(upgrades, ["websocket"]);
      }
    });
  }

  it("what was sent to the socket alone while it was away is replayed too", async () => {
    const receiver = await joined(client({ transports: ["websocket"] }), "solo");
    const sender = client({ transports: ["websocket"] });
    if (!sender.connected) await once(sender, "connect");
    const got = [];
    receiver.on("direct", (n) => got.push(n));
    await sender.emitWithAck("relay", { event: "direct", args: [0], to: receiver.id });
    await until(() => got.length === 1, "the first direct message");
    receiver.io.engine.transport.ws._socket.destroy();
    await once(receiver, "disconnect");
    for (let n = 1; n <= 20; n++) await sender.emitWithAck("relay", { event: "direct", args: [n], to: receiver.id });
    await once(receiver, "connect");
    assert.equal(receiver.recovered, true);
    await until(() => got.length === 21, `21 direct messages (got ${got.length})`);
    assert.deepEqual(got, [...Array(21).keys()]);
  });

  it("an offset this server never gave, or a pid it does not know, is a new session", async () => {
    const a = io(server.url, { forceNew: true, transports: ["websocket"], auth: { pid: "nope", offset: "abcdefgh-1" } });
    made.push(a);
    await once(a, "connect");
    assert.equal(a.recovered, false);
    const { rooms } = await a.emitWithAck("rooms");
    assert.deepEqual(rooms, [a.id]);
    const after = await metric(server.url, "portico_recoveries_total", { namespace: "/", outcome: "new_session" });
    assert.ok(after >= 1, `new_session counted: ${after}`);
  });

  it("acks carry no offset", async () => {
    const s = await joined(client({ transports: ["websocket"] }), "acks");
    const answer = await s.emitWithAck("ping", 1, "two");
    assert.deepEqual(answer, 1, "the ack is the echo's own arguments");
    const all = await new Promise((done) => s.emit("ping", 1, "two", (...args) => done(args)));
    assert.deepEqual(all, [1, "two"]);
  });
});

describe("connection state recovery past its window", () => {
  let server;
  before(async () => {
    server = await startServer(`
[socketio.recovery]
max_disconnection_ms = 300
`);
  });
  after(() => server.stop());

  it("a client back after max_disconnection_ms gets a new session: new id, not recovered, no rooms", async () => {
    const s = reconnecting(server, { transports: ["websocket"], reconnection: false });
    try {
      await once(s, "connect");
      await s.emitWithAck("join", "late");
      const got = [];
      s.on("m", (n) => got.push(n));
      await s.emitWithAck("relay", { event: "m", args: [0], to: "late" });
      await until(() => got.length === 1, "the first message");
      const first = s.id;
      s.io.engine.transport.ws._socket.destroy();
      await once(s, "disconnect");
      await sleep(600);
      s.connect();
      await once(s, "connect");
      assert.equal(s.recovered, false);
      assert.notEqual(s.id, first);
      const { rooms } = await s.emitWithAck("rooms");
      assert.deepEqual(rooms, [s.id]);
      assert.deepEqual(got, [0], "nothing replayed");
    } finally {
      s.close();
    }
  });
});

describe("without [socketio.recovery]", () => {
  let server;
  before(async () => {
    server = await startServer("");
  });
  after(() => server.stop());

  it("CONNECT has no pid, events no offset, and a reconnect is a new socket", async () => {
    const s = reconnecting(server, { transports: ["websocket"] });
    try {
      await once(s, "connect");
      const args = [];
      s.on("m", (...a) => args.push(a));
      await s.emitWithAck("relay", { event: "m", args: [7], to: s.id });
      await until(() => args.length === 1, "the message");
      assert.deepEqual(args, [[7]]);
      const first = s.id;
      s.emit("drop-transport");
      await once(s, "disconnect");
      await once(s, "connect");
      // socket.io-client leaves it undefined when CONNECT has no pid.
      assert.ok(!s.recovered, `${s.recovered}`);
      assert.notEqual(s.id, first);
    } finally {
      s.close();
    }
  });
});

for (const skip of [true, false]) {
  describe(`connection state recovery on an authenticated namespace (skip_middlewares = ${skip})`, () => {
    const SECRET = "recovery-secret";
    let server;
    before(async () => {
      server = await startServer(`
[auth]
secret = "${SECRET}"
[socketio.recovery]
max_disconnection_ms = 10000
skip_middlewares = ${skip}
[namespaces."/secure"]
handler = "echo"
auth = "required"
`);
    });
    after(() => server.stop());

    const token = (sub) => sign({ sub, exp: now() + 600 }, SECRET);

    /** A client of /secure as user `sub`, in room `room`, whose transport has just dropped. */
    async function dropped(sub, room) {
      const s = io(`${server.url}/secure`, {
        forceNew: true,
        transports: ["websocket"],
        reconnection: false,
        auth: { token: token(sub) },
      });
      await once(s, "connect");
      await s.emitWithAck("join", room);
      const got = [];
      s.on("m", (n) => got.push(n));
      await s.emitWithAck("relay", { event: "m", args: [0], to: room });
      await until(() => got.length === 1, "the first message");
      const id = s.id;
      s.io.engine.transport.ws._socket.destroy();
      await once(s, "disconnect");
      return { s, got, id };
    }

    /** Sends `n` more messages to `room` from another user's socket. */
    async function sendMissed(room, n) {
      const other = io(`${server.url}/secure`, {
        forceNew: true,
        transports: ["websocket"],
        reconnection: false,
        auth: { token: token(999) },
      });
      try {
        await once(other, "connect");
        for (let i = 1; i <= n; i++) await other.emitWithAck("relay", { event: "m", args: [i], to: room });
      } finally {
        other.close();
      }
    }

    it(
      skip
        ? "a bad token on reconnect is not asked about: the socket is recovered as its user"
        : "a bad token on reconnect is refused, and the session waits for a good one",
      async () => {
        const room = `auth-${skip}`;
        const { s, got, id } = await dropped(7, room);
        try {
          await sendMissed(room, 3);
          s.auth = { token: "not-a-token" };
          s.connect();
          if (skip) {
            await once(s, "connect");
          } else {
            const err = await once(s, "connect_error");
            assert.match(err.message, /token/i);
            s.auth = { token: token(7) };
            s.connect();
            await once(s, "connect");
          }
          assert.equal(s.recovered, true);
          assert.equal(s.id, id);
          await until(() => got.length === 4, `4 messages (got ${got})`);
          assert.deepEqual(got, [0, 1, 2, 3]);
        } finally {
          s.close();
        }
      },
    );

    // With skip_middlewares the token is not read at all: the session's user comes back.
    if (!skip) it("another user's token never resumes the session", async () => {
      const room = "auth-other-user";
      const { s, id } = await dropped(8, room);
      try {
        s.auth = { token: token(9) };
        s.connect();
        await once(s, "connect");
        assert.ok(!s.recovered);
        assert.notEqual(s.id, id);
        const { rooms } = await s.emitWithAck("rooms");
        assert.deepEqual(rooms, [s.id, "user:9"].sort());
      } finally {
        s.close();
      }
    });

    // Before it may claim, the client is authenticated: a pid that leaked to another
    // user neither resumes the session nor closes the connection that still holds it.
    if (!skip) it("a leaked pid with another user's token leaves the live socket alone", async () => {
      const room = "auth-leaked-pid";
      const victim = io(`${server.url}/secure`, {
        forceNew: true,
        transports: ["websocket"],
        reconnection: false,
        auth: { token: token(11) },
      });
      let thief;
      try {
        await once(victim, "connect");
        await victim.emitWithAck("join", room);
        const got = [];
        victim.on("m", (n) => got.push(n));
        await victim.emitWithAck("relay", { event: "m", args: [0], to: room });
        await until(() => got.length === 1, "the first message");
        assert.ok(victim._pid && victim._lastOffset, "the victim has a session to steal");
        let dropped = false;
        victim.on("disconnect", () => (dropped = true));
        thief = io(`${server.url}/secure`, {
          forceNew: true,
          transports: ["websocket"],
          reconnection: false,
          auth: { token: token(12), pid: victim._pid, offset: victim._lastOffset },
        });
        await once(thief, "connect");
        assert.ok(!thief.recovered);
        assert.notEqual(thief.id, victim.id);
        const { rooms } = await thief.emitWithAck("rooms");
        assert.deepEqual(rooms, [thief.id, "user:12"].sort());
        await sendMissed(room, 1);
        await until(() => got.length === 2, `the victim is still served (got ${got})`);
        assert.equal(dropped, false);
        assert.equal(victim.connected, true);
      } finally {
        victim.close();
        thief?.close();
      }
    });
  });
}

describe("connection state recovery off for one namespace", () => {
  let server;
  before(async () => {
    server = await startServer(`
[socketio.recovery]
[namespaces."/"]
[namespaces."/plain"]
recovery = false
`);
  });
  after(() => server.stop());

  it("its sockets come back as new ones while the others recover", async () => {
    const kept = reconnecting(server, { transports: ["websocket"] });
    const plain = io(`${server.url}/plain`, {
      forceNew: true,
      transports: ["websocket"],
      reconnectionDelay: 200,
      reconnectionDelayMax: 200,
      randomizationFactor: 0,
    });
    try {
      await Promise.all([once(kept, "connect"), once(plain, "connect")]);
      const ids = [kept.id, plain.id];
      for (const s of [kept, plain]) {
        const got = [];
        s.on("m", (n) => got.push(n));
        await s.emitWithAck("relay", { event: "m", args: [1], to: s.id });
        await until(() => got.length === 1, "a message, so the client has an offset if it gets any");
      }
      const back = Promise.all([once(kept, "connect"), once(plain, "connect")]);
      kept.emit("drop-transport");
      plain.emit("drop-transport");
      await back;
      assert.equal(kept.recovered, true);
      assert.equal(kept.id, ids[0]);
      assert.ok(!plain.recovered);
      assert.notEqual(plain.id, ids[1]);
    } finally {
      kept.close();
      plain.close();
    }
  });
});

describe("connection state recovery, as a plugin sees it", () => {
  const PLUGINS = process.env.PORTICO_PLUGINS_DIR ?? resolve(dirname(fileURLToPath(import.meta.url)), "../target/plugins");
  let root, server;
  before(async () => {
    root = mkdtempSync(join(tmpdir(), "portico-e2e-recovery-"));
    mkdirSync(join(root, "plugins"));
    copyFileSync(join(PLUGINS, "misbehaving.wasm"), join(root, "plugins", "misbehaving.wasm"));
    server = await startServer(`
[plugins]
dir = ${JSON.stringify(join(root, "plugins"))}
[plugins.settings.misbehaving.config]
lifecycle_room = "observers"
[socketio.recovery]
max_disconnection_ms = 10000
[namespaces."/m"]
plugins = ["misbehaving"]
`);
  });
  after(async () => {
    await server?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it("one on-connect, no on-disconnect for a drop it recovers from, one when it leaves for good", async () => {
    const observer = io(`${server.url}/m`, { forceNew: true, transports: ["websocket"], reconnection: false });
    const s = io(`${server.url}/m`, {
      forceNew: true,
      transports: ["websocket"],
      autoConnect: false,
      reconnectionDelay: 200,
      reconnectionDelayMax: 200,
      randomizationFactor: 0,
    });
    try {
      await once(observer, "connect");
      assert.equal(await observer.timeout(2000).emitWithAck("slow-join", { room: "observers", ms: 0 }), "joined");
      const seen = [];
      observer.on("lifecycle", (e) => seen.push(e));
      s.connect();
      await once(s, "connect");
      const id = s.id;
      const ofSubject = () => seen.filter((e) => e.id === id);
      await until(() => ofSubject().length === 1, "its on-connect");
      assert.deepEqual(ofSubject(), [{ event: "connect", id, reason: null }]);
      s.io.engine.transport.ws._socket.destroy();
      await once(s, "disconnect");
      await once(s, "connect");
      assert.equal(s.recovered, true);
      assert.equal(s.id, id);
      // Each answer comes after anything its plugin call emitted before it.
      assert.equal(await s.timeout(2000).emitWithAck("anything"), "ok");
      assert.equal(await observer.timeout(2000).emitWithAck("anything"), "ok");
      assert.deepEqual(ofSubject(), [{ event: "connect", id, reason: null }], "no second connect, no disconnect");
      s.disconnect();
      await until(() => ofSubject().length === 2, "its on-disconnect");
      assert.deepEqual(ofSubject()[1], { event: "disconnect", id, reason: "client namespace disconnect" });
      await sleep(100);
      assert.equal(ofSubject().length, 2, "heard once");
    } finally {
      observer.close();
      s.close();
    }
  });
});
