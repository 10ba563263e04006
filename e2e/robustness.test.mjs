// Robustness: garbage sent over raw WebSockets must end the offending connection where
// the protocol says so, and nothing else: the server stays up and a healthy
// socket.io-client connected for the whole group keeps getting ack round trips.
// Then the plain WebSocket endpoint (`/ws`, `{event, data}` framing): echo, error
// replies that keep the connection open, and rooms shared with Socket.IO clients.
import { describe, it, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { startServer, once } from "./lib/server.mjs";
import { RawSocket, assertOpenPacket } from "./lib/raw.mjs";
import { metric as metricAt } from "./lib/metrics.mjs";

const PH0 = '{"_placeholder":true,"num":0}';
const PH1 = '{"_placeholder":true,"num":1}';

/** A small seeded PRNG (mulberry32), so random junk is the same on every run. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Connects a socket.io-client over WebSocket only, without reconnection. */
async function healthyClient(url, nsp = "/") {
  const s = io(url + nsp, { transports: ["websocket"], reconnection: false, forceNew: true, timeout: 5000 });
  await new Promise((resolve, reject) => {
    s.once("connect", resolve);
    s.once("connect_error", reject);
  });
  return s;
}

/** The value of a Prometheus gauge/counter in `/metrics`, summed over its labels. */
async function metric(url, name) {
  const value = await metricAt(url, name);
  assert.ok(value !== undefined, `${name} missing from /metrics`);
  return value;
}

/**
 * The garbage group for one server: raw sockets tracked and closed after each test,
 * and `checkHealthy()` asserting the process is up and the healthy client still
 * gets an ack (same socket id, so it was never disconnected).
 */
function garbageHarness(toml) {
  const h = { server: null, healthy: null, healthyId: null, raws: new Set(), n: 0 };
  before(async () => {
    h.server = await startServer(toml);
    h.healthy = await healthyClient(h.server.url);
    h.healthyId = h.healthy.id;
  });
  afterEach(async () => {
    await Promise.all([...h.raws].map((s) => s.close()));
    h.raws.clear();
  });
  after(async () => {
    h.healthy?.disconnect();
    await h.server?.stop();
  });

  h.checkHealthy = async () => {
    assert.ok(h.server.alive(), `portico exited:\n${h.server.output()}`);
    assert.ok(h.healthy.connected, "the healthy client was disconnected");
    assert.equal(h.healthy.id, h.healthyId, "the healthy client reconnected");
    const n = ++h.n;
    assert.equal(await h.healthy.timeout(2000).emitWithAck("ping", n), n);
  };

  /** A raw WebSocket past the Engine.IO open packet. */
  h.rawEngine = async () => {
    const socket = new RawSocket(`${h.server.wsUrl}/socket.io/?EIO=4&transport=websocket`, { autoPong: true });
    h.raws.add(socket);
    await socket.opened;
    const open = JSON.parse((await socket.next()).slice(1));
    assert.deepEqual(open.upgrades, []);
    return socket;
  };

  /** A raw WebSocket connected to namespace `/`. */
  h.rawSocketIO = async () => {
    const socket = await h.rawEngine();
    socket.send("40");
    assert.match(await socket.nextNonPing(), /^40\{"sid":"[^"]+"\}$/);
    return socket;
  };

  /** Asserts the server closed `socket` and sent it nothing but pings first. */
  h.assertClosedSilently = async (socket, what) => {
    await socket.waitClosed(2000).catch((err) => {
      throw new Error(`${what}: ${err.message}`);
    });
    assert.ok(socket.closeInfo.byServer, `${what}: closed by us, not by the server`);
    assert.deepEqual(
      socket.frames.filter((f) => f !== "2"),
      [],
      `${what}: the server answered before closing`,
    );
  };
  return h;
}

describe("garbage over raw WebSockets on /socket.io/", () => {
  const h = garbageHarness("");

  it("the healthy client works before any garbage", async () => {
    await h.checkHealthy();
  });

  it("malformed Engine.IO packets close the connection", async () => {
    for (const packet of ["abc", "", "9"]) {
      const socket = await h.rawEngine();
      socket.send(packet);
      await h.assertClosedSilently(socket, `engine.io packet ${JSON.stringify(packet)}`);
      await h.checkHealthy();
    }
  });

  it("malformed Engine.IO packets close a connection already in a namespace", async () => {
    for (const packet of ["abc", "", "9"]) {
      const socket = await h.rawSocketIO();
      socket.send(packet);
      await h.assertClosedSilently(socket, `engine.io packet ${JSON.stringify(packet)} after CONNECT`);
      await h.checkHealthy();
    }
  });

  it("malformed Socket.IO packets close the connection", async () => {
    for (const packet of ["4abc", "42{}", '42abc["x"]', '42["unterminated']) {
      const socket = await h.rawSocketIO();
      socket.send(packet);
      await h.assertClosedSilently(socket, `socket.io packet ${JSON.stringify(packet)}`);
      await h.checkHealthy();
    }
  });

  it("text instead of an announced binary attachment closes the connection", async () => {
    const socket = await h.rawSocketIO();
    socket.send('452-["x"]');
    socket.send('42["not-an-attachment"]');
    await h.assertClosedSilently(socket, "text while attachments were pending");
    await h.checkHealthy();
  });

  it("text after one of two announced attachments closes the connection", async () => {
    const socket = await h.rawSocketIO();
    socket.send(`452-["x",${PH0},${PH1}]`);
    socket.send(Buffer.from([1, 2, 3]));
    socket.send('42["not-an-attachment"]');
    await h.assertClosedSilently(socket, "text after the first of two attachments");
    await h.checkHealthy();
  });

  it("a binary frame with no pending packet closes the connection", async () => {
    const socket = await h.rawSocketIO();
    socket.send(Buffer.from([1, 2, 3]));
    await h.assertClosedSilently(socket, "unexpected binary frame");
    await h.checkHealthy();
  });

  it("a binary frame before any CONNECT closes the connection", async () => {
    const socket = await h.rawEngine();
    socket.send(Buffer.from([4, 0x34, 0x32]));
    await h.assertClosedSilently(socket, "binary frame before CONNECT");
    await h.checkHealthy();
  });

  it("CONNECT to an unknown namespace gets CONNECT_ERROR and the connection stays open", async () => {
    const socket = await h.rawEngine();
    socket.send("40/nope,");
    assert.equal(await socket.nextNonPing(), '44/nope,{"message":"Invalid namespace"}');
    assert.equal(socket.isClosed, false);
    // Still usable: join `/` and get an ack back.
    socket.send("40");
    assert.match(await socket.nextNonPing(), /^40\{"sid":"[^"]+"\}$/);
    socket.send('427["ping",1]');
    assert.equal(await socket.nextNonPing(), "437[1]");
    await h.checkHealthy();
  });

  it("invalid JSON (or a non-object) as CONNECT auth closes the connection", async () => {
    for (const packet of ['40{"token":', "40{bad json}", '40["not","an","object"]', "40/nope,{bad"]) {
      const socket = await h.rawEngine();
      socket.send(packet);
      await h.assertClosedSilently(socket, `CONNECT ${JSON.stringify(packet)}`);
      await h.checkHealthy();
    }
  });

  it("a text frame that is not valid UTF-8 closes the connection", async () => {
    const socket = await h.rawSocketIO();
    socket.ws.send(Buffer.from([0x34, 0x32, 0xff, 0xfe, 0xfd]), { binary: false });
    await socket.waitClosed(2000);
    assert.ok(socket.closeInfo.byServer);
    await h.checkHealthy();
  });

  it("random binary junk closes the connection", async () => {
    const random = prng(0xc0ffee);
    for (let round = 0; round < 20; round++) {
      const socket = await h.rawSocketIO();
      const bytes = Buffer.alloc(1 + Math.floor(random() * 512));
      for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
      socket.send(bytes);
      await h.assertClosedSilently(socket, `random binary frame #${round} (${bytes.length} bytes)`);
    }
    await h.checkHealthy();
  });

  it("random text junk never takes the server down", async () => {
    const random = prng(0xbadf00d);
    const alphabet = '0123456789[]{}",:-/abc\\ \x1e';
    for (let round = 0; round < 50; round++) {
      const socket = await h.rawSocketIO();
      const length = 1 + Math.floor(random() * 64);
      let junk = "";
      for (let i = 0; i < length; i++) junk += alphabet[Math.floor(random() * alphabet.length)];
      socket.send(junk);
      // Some junk is valid by chance (`3`, `6`, `41`); only the server's survival is asserted.
      await socket.close();
      h.raws.delete(socket);
    }
    await h.checkHealthy();
  });

  it("200 rapid connect/garbage/close cycles leave no connection behind", { timeout: 60_000 }, async () => {
    const garbage = [
      "abc",
      "",
      "9",
      "4abc",
      "42{}",
      '42abc["x"]',
      '42["unterminated',
      '452-["x"]',
      "40/nope,",
      '40{"token":',
      Buffer.from([1, 2, 3]),
    ];
    const url = `${h.server.wsUrl}/socket.io/?EIO=4&transport=websocket`;
    let opened = 0;
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          const k = batch * 20 + i;
          const socket = new RawSocket(url);
          try {
            await socket.opened;
            opened++;
            socket.send(garbage[k % garbage.length]);
            if (k % 2) socket.ws.terminate();
          } finally {
            await socket.close();
          }
        }),
      );
    }
    assert.equal(opened, 200);
    await h.checkHealthy();
    // Every garbage connection is cleaned up: only the healthy client remains.
    const deadline = Date.now() + 5000;
    let open;
    let sockets;
    do {
      open = await metric(h.server.url, "portico_connections_open");
      sockets = await metric(h.server.url, "portico_sockets_open");
      if (open === 1 && sockets === 1) break;
      await new Promise((r) => setTimeout(r, 100));
    } while (Date.now() < deadline);
    assert.equal(open, 1, "portico_connections_open after the cycles");
    assert.equal(sockets, 1, "portico_sockets_open after the cycles");
  });
});

describe("oversize frames on /socket.io/ (max_payload = 10000)", () => {
  const h = garbageHarness("[engineio]\nmax_payload = 10000\n");

  it("advertises the limit", async () => {
    const socket = new RawSocket(`${h.server.wsUrl}/socket.io/?EIO=4&transport=websocket`);
    h.raws.add(socket);
    await socket.opened;
    assertOpenPacket(await socket.next(), {
      upgrades: [],
      pingInterval: 25000,
      pingTimeout: 20000,
      maxPayload: 10000,
    });
  });

  it("a frame under the limit is served", async () => {
    const socket = await h.rawSocketIO();
    const message = `42["big","${"a".repeat(9000)}"]`;
    socket.send(message);
    assert.equal(await socket.nextNonPing(), message); // the echo handler sends it back
    await h.checkHealthy();
  });

  it("a 20000-byte frame closes that WebSocket only", async () => {
    const socket = await h.rawSocketIO();
    const message = `42["big","${"a".repeat(20000 - 12)}"]`;
    assert.equal(Buffer.byteLength(message), 20000);
    socket.send(message);
    await h.assertClosedSilently(socket, "20000-byte text frame");
    await h.checkHealthy();
  });

  it("a 20000-byte binary attachment closes that WebSocket only", async () => {
    const socket = await h.rawSocketIO();
    socket.send(`451-["big",${PH0}]`);
    socket.send(Buffer.alloc(20000, 7));
    await h.assertClosedSilently(socket, "20000-byte binary frame");
    await h.checkHealthy();
  });

  it("a 20000-byte frame before CONNECT closes that WebSocket", async () => {
    const socket = await h.rawEngine();
    socket.send("4" + "x".repeat(19999));
    await h.assertClosedSilently(socket, "20000-byte frame before CONNECT");
    await h.checkHealthy();
  });
});

describe("native WebSocket endpoint (/ws)", () => {
  let server;
  const raws = new Set();
  const clients = new Set();

  before(async () => {
    server = await startServer('[namespaces."/"]\nhandler = "echo"\n[namespaces."/chat"]\nhandler = "echo"\n');
  });
  afterEach(async () => {
    await Promise.all([...raws].map((s) => s.close()));
    raws.clear();
    for (const c of clients) c.disconnect();
    clients.clear();
    assert.ok(server.alive(), `portico exited:\n${server.output()}`);
  });
  after(async () => {
    await server?.stop();
  });

  async function native(path = "/ws") {
    const socket = new RawSocket(`${server.wsUrl}${path}`);
    raws.add(socket);
    await socket.opened;
    return socket;
  }

  async function sio(nsp = "/") {
    const s = await healthyClient(server.url, nsp);
    clients.add(s);
    return s;
  }

  function assertErrorReply(frame, what) {
    assert.equal(typeof frame, "string", `${what}: the error reply must be a text frame`);
    const reply = JSON.parse(frame);
    assert.deepEqual(Object.keys(reply), ["event", "data"], `${what}: ${frame}`);
    assert.equal(reply.event, "error", `${what}: ${frame}`);
    assert.deepEqual(Object.keys(reply.data).sort(), ["code", "message"], `${what}: ${frame}`);
    assert.equal(reply.data.code, "BAD_REQUEST", `${what}: ${frame}`);
    assert.equal(typeof reply.data.message, "string");
    assert.ok(reply.data.message.length > 0);
  }

  it("echoes {event, data} on /ws", async () => {
    const socket = await native("/ws");
    socket.send('{"event":"hello","data":{"a":1}}');
    assert.equal(await socket.next(), '{"event":"hello","data":{"a":1}}');
  });

  it("echoes {event, data} on /ws/chat", async () => {
    const socket = await native("/ws/chat");
    socket.send('{"event":"hello","data":{"a":1}}');
    assert.equal(await socket.next(), '{"event":"hello","data":{"a":1}}');
  });

  it("answers malformed frames with an error event and keeps the connection open", async () => {
    const socket = await native("/ws");
    const bad = [
      ["invalid JSON", "not json"],
      ["a JSON array", "[1]"],
      ["an object without event", '{"data":1}'],
      ["a non-string event", '{"event":5,"data":1}'],
      ["a binary frame", Buffer.from([1, 2, 3])],
    ];
    for (const [what, frame] of bad) {
      socket.send(frame);
      assertErrorReply(await socket.next(), what);
      socket.send('{"event":"hello","data":{"after":"error"}}');
      assert.equal(await socket.next(), '{"event":"hello","data":{"after":"error"}}', `after ${what}`);
      assert.equal(socket.isClosed, false);
    }
  });

  it("shares rooms with Socket.IO clients in the same namespace", async () => {
    const member = await native("/ws");
    const outsider = await native("/ws");
    const otherNamespace = await native("/ws/chat");
    const s = await sio("/");

    member.send('{"event":"join","data":"r"}');
    const joined = JSON.parse(await member.next());
    assert.equal(joined.event, "join");
    assert.deepEqual(Object.keys(joined.data), ["rooms"]);
    assert.ok(joined.data.rooms.includes("r"), JSON.stringify(joined));
    otherNamespace.send('{"event":"join","data":"r"}');
    assert.ok(JSON.parse(await otherNamespace.next()).data.rooms.includes("r"));

    assert.deepEqual(await s.timeout(2000).emitWithAck("relay", { event: "news", data: { x: 1 }, to: "r" }), {
      ok: true,
    });
    assert.equal(await member.next(), '{"event":"news","data":{"x":1}}');

    // Barrier: a namespace-wide marker; FIFO per connection, so `news` would come first.
    assert.deepEqual(await s.timeout(2000).emitWithAck("relay", { event: "marker", data: 1 }), { ok: true });
    assert.equal(await member.next(), '{"event":"marker","data":1}');
    assert.equal(await outsider.next(), '{"event":"marker","data":1}', "a socket outside the room got the news");
    const chatClient = await sio("/chat");
    assert.deepEqual(await chatClient.timeout(2000).emitWithAck("relay", { event: "marker", data: 2 }), { ok: true });
    assert.equal(await otherNamespace.next(), '{"event":"marker","data":2}', "/chat got the news sent to / room r");
  });

  it("a native client can relay to a room a Socket.IO client joined", async () => {
    const s = await sio("/");
    assert.deepEqual((await s.timeout(2000).emitWithAck("join", "r2")).rooms.includes("r2"), true);
    const socket = await native("/ws");
    const got = once(s, "from-native", 2000);
    socket.send('{"event":"relay","data":{"event":"from-native","data":"hi","to":"r2"}}');
    assert.equal(await socket.next(), '{"event":"relay","data":{"ok":true}}');
    assert.equal(await got, "hi");
  });

  it("refuses an unknown namespace with HTTP 404", async () => {
    const socket = new RawSocket(`${server.wsUrl}/ws/nope`);
    raws.add(socket);
    const err = await socket.opened.then(
      () => null,
      (e) => e,
    );
    assert.ok(err, "the upgrade to /ws/nope succeeded");
    assert.equal(err.status, 404);
  });

  it("refuses /ws/chat with HTTP 404 when /chat is not configured", async () => {
    const plain = await startServer("");
    try {
      const socket = new RawSocket(`${plain.wsUrl}/ws/chat`);
      const err = await socket.opened.then(
        () => null,
        (e) => e,
      );
      await socket.close();
      assert.ok(err, "the upgrade to /ws/chat succeeded");
      assert.equal(err.status, 404);
      const ok = await RawSocket.open(`${plain.wsUrl}/ws`);
      ok.send('{"event":"hello","data":null}');
      assert.equal(await ok.next(), '{"event":"hello","data":null}');
      await ok.close();
    } finally {
      await plain.stop();
    }
  });
});
