// Socket.IO v5 / Engine.IO v4 conformance on `/socket.io/`: every case of the official
// socket.io-protocol test suite (see /work/notes/protocol-checklist.md, section 3) plus
// the "Variant" acknowledgement cases, spoken over raw HTTP long-polling and raw
// WebSockets against the portico binary with deploy/conformance-socketio.toml.
import { describe, it, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { startServer, sleep } from "./lib/server.mjs";
import {
  RawSocket,
  assertBinary,
  assertErrorBody,
  assertOpenPacket,
  assertWebSocketRefused,
  pollingSession,
  request,
} from "./lib/raw.mjs";

// The harness's --listen flag overrides server.listen, so the file is passed unchanged.
const CONFIG = readFileSync(new URL("../deploy/conformance-socketio.toml", import.meta.url), "utf8");

const PH0 = '{"_placeholder":true,"num":0}';
const PH1 = '{"_placeholder":true,"num":1}';

describe("Socket.IO protocol conformance (/socket.io/, EIO=4)", () => {
  let server;
  let base; // http://127.0.0.1:PORT/socket.io/
  let wsBase; // ws://127.0.0.1:PORT/socket.io/
  const open = new Set();

  before(async () => {
    server = await startServer(CONFIG);
    base = `${server.url}/socket.io/`;
    wsBase = `${server.wsUrl}/socket.io/`;
  });

  afterEach(async () => {
    await Promise.all([...open].map((s) => s.close()));
    open.clear();
    assert.ok(server.alive(), `portico exited:\n${server.output()}`);
  });

  after(async () => {
    await server?.stop();
  });

  /** A raw WebSocket to `/socket.io/?query`, closed after the test. */
  async function ws(query = "EIO=4&transport=websocket", options = {}) {
    const socket = new RawSocket(`${wsBase}?${query}`, options);
    open.add(socket);
    await socket.opened;
    return socket;
  }

  /** WS + open packet + `40` + CONNECT reply + `auth` event; pings are answered. */
  async function initSocketIOConnection() {
    const socket = await ws("EIO=4&transport=websocket", { autoPong: true });
    assertOpenPacket(await socket.next(), { upgrades: [] });
    socket.send("40");
    const connect = await socket.nextNonPing();
    assert.match(connect, /^40\{/);
    const payload = JSON.parse(connect.slice(2));
    assert.deepEqual(Object.keys(payload), ["sid"]);
    assert.equal(typeof payload.sid, "string");
    assert.equal(await socket.nextNonPing(), '42["auth",{}]');
    return socket;
  }

  describe("Engine.IO", () => {
    describe("handshake", () => {
      describe("HTTP long-polling", () => {
        it("should successfully open a session", async () => {
          const res = await request(`${base}?EIO=4&transport=polling`);
          assert.equal(res.status, 200);
          assert.match(res.headers.get("content-type"), /^text\/plain/);
          assertOpenPacket(res.body, { upgrades: ["websocket"] });
        });

        it("should fail with an invalid 'EIO' query parameter", async () => {
          assertErrorBody(await request(`${base}?transport=polling`), 400, 5, "Unsupported protocol version");
          assertErrorBody(await request(`${base}?EIO=abc&transport=polling`), 400, 5, "Unsupported protocol version");
        });

        it("should fail with an invalid 'transport' query parameter", async () => {
          assertErrorBody(await request(`${base}?EIO=4`), 400, 0, "Transport unknown");
          assertErrorBody(await request(`${base}?EIO=4&transport=abc`), 400, 0, "Transport unknown");
        });

        it("should fail with an invalid request method", async () => {
          const url = `${base}?EIO=4&transport=polling`;
          assertErrorBody(await request(url, { method: "POST" }), 400, 2, "Bad handshake method");
          assertErrorBody(await request(url, { method: "PUT" }), 400, 2, "Bad handshake method");
        });
      });

      describe("WebSocket", () => {
        it("should successfully open a session", async () => {
          const socket = await ws();
          assertOpenPacket(await socket.next(), { upgrades: [] });
        });

        it("should fail with an invalid 'EIO' query parameter", async () => {
          await assertWebSocketRefused(`${wsBase}?transport=websocket`);
          await assertWebSocketRefused(`${wsBase}?EIO=abc&transport=websocket`);
        });

        it("should fail with an invalid 'transport' query parameter", async () => {
          await assertWebSocketRefused(`${wsBase}?EIO=4`);
          await assertWebSocketRefused(`${wsBase}?EIO=4&transport=abc`);
        });
      });
    });

    describe("heartbeat", { timeout: 5000 }, () => {
      it("HTTP long-polling: should send ping/pong packets", async () => {
        const session = await pollingSession(base);
        for (let i = 0; i < 3; i++) {
          const poll = await session.poll();
          assert.equal(poll.status, 200);
          assert.equal(poll.body, "2");
          const pong = await session.post("3");
          assert.equal(pong.status, 200);
          assert.equal(pong.body, "ok");
        }
      });

      it("HTTP long-polling: should close the session upon ping timeout", async () => {
        const session = await pollingSession(base);
        // pingInterval + pingTimeout (500 ms, the suite's value), never answering the ping,
        // plus 100 ms: the server's clock starts before the handshake reaches us and its
        // timers may fire a millisecond or two late, so exactly 500 ms races the close.
        await sleep(600);
        const poll = await session.poll();
        // As the official suite: the session is gone, so 400.
        assertErrorBody(poll, 400, 1, "Session ID unknown");
      });

      it("WebSocket: should send ping/pong packets", async () => {
        const socket = await ws();
        assertOpenPacket(await socket.next(), { upgrades: [] });
        for (let i = 0; i < 3; i++) {
          assert.equal(await socket.next(1000), "2");
          socket.send("3");
        }
        assert.equal(socket.isClosed, false);
      });

      it("WebSocket: should close the session upon ping timeout", async () => {
        const socket = await ws();
        const opened = Date.now();
        assertOpenPacket(await socket.next(), { upgrades: [] });
        assert.equal(await socket.next(1000), "2"); // never answered
        await socket.waitClosed(2000);
        const elapsed = Date.now() - opened;
        // ~500 ms (300 + 200); the 1000 ms connect timeout must not be what closed it.
        assert.ok(elapsed < 900, `closed after ${elapsed} ms, expected about 500 ms`);
      });
    });

    describe("close", () => {
      it("HTTP long-polling: should forcefully close the session", async () => {
        const session = await pollingSession(base);
        const pending = session.poll();
        await sleep(20); // let the GET reach the server first
        const [poll, post] = await Promise.all([pending, session.post("1")]);
        assert.equal(post.status, 200);
        assert.equal(poll.status, 200);
        assert.equal(poll.body, "6");
        assertErrorBody(await session.poll(), 400, 1, "Session ID unknown");
      });

      it("WebSocket: should forcefully close the session", async () => {
        const socket = await ws();
        assertOpenPacket(await socket.next(), { upgrades: [] });
        socket.send("1");
        await socket.waitClosed(2000);
      });
    });

    describe("upgrade", () => {
      it("should successfully upgrade from HTTP long-polling to WebSocket", async () => {
        const session = await pollingSession(base);
        const pending = session.poll();
        const socket = await ws(`EIO=4&transport=websocket&sid=${session.sid}`);
        socket.send("2probe");
        assert.equal(await socket.next(), "3probe");
        // EIO-README: the pending GET is ended with a noop.
        const poll = await pending;
        assert.equal(poll.status, 200);
        assert.equal(poll.body, "6");
        socket.send("5");
        // The upgraded session carries Socket.IO.
        socket.send("40");
        assert.match(await socket.nextNonPing(), /^40\{"sid":"[^"]+"\}$/);
        assert.equal(await socket.nextNonPing(), '42["auth",{}]');
      });

      it("should ignore HTTP requests with same sid after upgrade", async () => {
        const session = await pollingSession(base);
        const socket = await ws(`EIO=4&transport=websocket&sid=${session.sid}`);
        socket.send("2probe");
        socket.send("5");
        socket.send("40");
        // Only `3probe` may come first; the CONNECT reply shows the `5` was processed.
        assert.equal(await socket.next(), "3probe");
        assert.match(await socket.nextNonPing(), /^40\{"sid":"[^"]+"\}$/);
        assert.equal(await socket.nextNonPing(), '42["auth",{}]');
        const poll = await session.poll();
        assertErrorBody(poll, 400, 3, "Bad request");
        socket.send('42["message","still open"]');
        assert.equal(await socket.nextNonPing(), '42["message-back","still open"]');
      });

      it("should ignore WebSocket connection with same sid after upgrade", async () => {
        const session = await pollingSession(base);
        const socket = await ws(`EIO=4&transport=websocket&sid=${session.sid}`);
        socket.send("2probe");
        socket.send("5");
        socket.send("40");
        assert.equal(await socket.next(), "3probe");
        assert.match(await socket.nextNonPing(), /^40\{"sid":"[^"]+"\}$/);
        assert.equal(await socket.nextNonPing(), '42["auth",{}]');
        const second = new RawSocket(`${wsBase}?EIO=4&transport=websocket&sid=${session.sid}`);
        open.add(second);
        // As Node's engine.io: accepted at the HTTP level (a refusal rejects here), then
        // closed by the server.
        await second.opened;
        await second.waitClosed(2000);
        assert.ok(second.closeInfo.byServer);
        assert.ok(
          !second.frames.some((f) => f === "3probe" || (typeof f === "string" && f.startsWith("0"))),
          `the second WebSocket was served: ${JSON.stringify(second.frames)}`,
        );
        socket.send('42["message","still open"]');
        assert.equal(await socket.nextNonPing(), '42["message-back","still open"]');
      });
    });
  });

  describe("Socket.IO", () => {
    describe("connect", () => {
      it("should allow connection to the main namespace", async () => {
        const socket = await ws();
        assertOpenPacket(await socket.next(), { upgrades: [] });
        socket.send("40");
        const connect = await socket.next();
        assert.ok(connect.startsWith("40"), connect);
        const payload = JSON.parse(connect.substring(2));
        assert.deepEqual(Object.keys(payload), ["sid"]);
        assert.equal(typeof payload.sid, "string");
        assert.equal(await socket.next(), '42["auth",{}]');
      });

      it("should allow connection to the main namespace with a payload", async () => {
        const socket = await ws();
        assertOpenPacket(await socket.next(), { upgrades: [] });
        socket.send('40{"token":"123"}');
        const connect = await socket.next();
        assert.ok(connect.startsWith("40"), connect);
        const payload = JSON.parse(connect.substring(2));
        assert.deepEqual(Object.keys(payload), ["sid"]);
        assert.equal(typeof payload.sid, "string");
        assert.equal(await socket.next(), '42["auth",{"token":"123"}]');
      });

      it("should allow connection to a custom namespace", async () => {
        const socket = await ws();
        assertOpenPacket(await socket.next(), { upgrades: [] });
        socket.send("40/custom,");
        const connect = await socket.next();
        assert.ok(connect.startsWith("40/custom,"), connect);
        const payload = JSON.parse(connect.substring(10));
        assert.deepEqual(Object.keys(payload), ["sid"]);
        assert.equal(typeof payload.sid, "string");
        assert.equal(await socket.next(), '42/custom,["auth",{}]');
      });

      it("should allow connection to a custom namespace with a payload", async () => {
        const socket = await ws();
        assertOpenPacket(await socket.next(), { upgrades: [] });
        socket.send('40/custom,{"token":"abc"}');
        const connect = await socket.next();
        assert.ok(connect.startsWith("40/custom,"), connect);
        const payload = JSON.parse(connect.substring(10));
        assert.deepEqual(Object.keys(payload), ["sid"]);
        assert.equal(typeof payload.sid, "string");
        assert.equal(await socket.next(), '42/custom,["auth",{"token":"abc"}]');
      });

      it("should disallow connection to an unknown namespace", async () => {
        const socket = await ws();
        assertOpenPacket(await socket.next(), { upgrades: [] });
        socket.send("40/random");
        assert.equal(await socket.next(), '44/random,{"message":"Invalid namespace"}');
      });

      it("should disallow connection with an invalid handshake", async () => {
        const socket = await ws("EIO=4&transport=websocket", { autoPong: true });
        assertOpenPacket(await socket.next(), { upgrades: [] });
        socket.send("4abc");
        await socket.waitClosed(2000);
      });

      it("should close the connection if no handshake is received", async () => {
        // Pings are answered so that only the 1000 ms connect timeout can close it.
        const socket = await ws("EIO=4&transport=websocket", { autoPong: true });
        const opened = Date.now();
        assertOpenPacket(await socket.next(), { upgrades: [] });
        await socket.waitClosed(2500);
        const elapsed = Date.now() - opened;
        assert.ok(elapsed >= 900 && elapsed < 2000, `closed after ${elapsed} ms, expected about 1000 ms`);
        assert.deepEqual(socket.frames.filter((f) => f !== "2"), [], "only pings were expected before the close");
      });
    });

    describe("disconnect", () => {
      it("should disconnect from the main namespace", async () => {
        const socket = await initSocketIOConnection();
        socket.send("41");
        // Nothing is answered; the next frame is the next ping, on a live connection.
        assert.equal(await socket.next(1000), "2");
        assert.equal(socket.isClosed, false);
        // The Engine.IO connection is still usable: the namespace can be joined again.
        socket.send("40");
        assert.match(await socket.nextNonPing(), /^40\{"sid":"[^"]+"\}$/);
        assert.equal(await socket.nextNonPing(), '42["auth",{}]');
      });

      it("should connect then disconnect from a custom namespace", async () => {
        const socket = await initSocketIOConnection();
        assert.equal(await socket.next(1000), "2"); // answered by autoPong
        socket.send("40/custom");
        const [connect, auth] = await socket.nextFrames(2);
        assert.match(connect, /^40\/custom,\{"sid":"[^"]+"\}$/);
        assert.equal(auth, '42/custom,["auth",{}]');
        socket.send("41/custom");
        socket.send('42["message","message to main namespace"]');
        assert.equal(await socket.nextNonPing(), '42["message-back","message to main namespace"]');
      });

      it("should connect then disconnect from a custom namespace (Variant: extra args)", async () => {
        const socket = await initSocketIOConnection();
        socket.send("40/custom");
        const [connect, auth] = await socket.nextFrames(2);
        assert.match(connect, /^40\/custom,\{"sid":"[^"]+"\}$/);
        assert.equal(auth, '42/custom,["auth",{}]');
        socket.send("41/custom");
        socket.send('42["message","message to main namespace",1,2]');
        assert.equal(await socket.nextNonPing(), '42["message-back","message to main namespace",1,2]');
      });

      it("closes the connection upon an event for a namespace it has left", async () => {
        // Not in the suite: the reference server (socket.io lib/client.ts, ondecoded) closes
        // the connection on a non-CONNECT packet for a namespace without a socket.
        const socket = await initSocketIOConnection();
        socket.send("40/custom,");
        const [connect, auth] = await socket.nextFrames(2);
        assert.match(connect, /^40\/custom,\{"sid":"[^"]+"\}$/);
        assert.equal(auth, '42/custom,["auth",{}]');
        socket.send("41/custom,");
        socket.send('42["message","main"]');
        assert.equal(await socket.nextNonPing(), '42["message-back","main"]');
        socket.send('42/custom,["message","after leaving"]');
        await socket.waitClosed(2000);
        assert.deepEqual(socket.frames.filter((f) => f !== "2"), [], "nothing may be emitted on /custom after leaving");
      });
    });

    describe("message", () => {
      it("should send a plain-text packet", async () => {
        const socket = await initSocketIOConnection();
        socket.send('42["message",1,"2",{"3":[true]}]');
        assert.equal(await socket.nextNonPing(), '42["message-back",1,"2",{"3":[true]}]');
      });

      it("should send a packet with binary attachments", async () => {
        const socket = await initSocketIOConnection();
        socket.send(`452-["message",${PH0},${PH1}]`);
        socket.send(Buffer.from([1, 2, 3]));
        socket.send(Buffer.from([4, 5, 6]));
        const [header, a, b] = await socket.nextFrames(3);
        assert.equal(header, `452-["message-back",${PH0},${PH1}]`);
        assertBinary(a, [1, 2, 3]);
        assertBinary(b, [4, 5, 6]);
      });

      it("should send a packet with binary attachments (Variant: leading plain arg)", async () => {
        const socket = await initSocketIOConnection();
        socket.send(`452-["message",1,${PH0},${PH1}]`);
        socket.send(Buffer.from([1, 2, 3]));
        socket.send(Buffer.from([4, 5, 6]));
        const [header, a, b] = await socket.nextFrames(3);
        assert.equal(header, `452-["message-back",1,${PH0},${PH1}]`);
        assertBinary(a, [1, 2, 3]);
        assertBinary(b, [4, 5, 6]);
      });

      it("should send a plain-text packet with an ack", async () => {
        const socket = await initSocketIOConnection();
        socket.send('42456["message-with-ack",1,"2",{"3":[false]}]');
        assert.equal(await socket.nextNonPing(), '43456[1,"2",{"3":[false]}]');
      });

      it("should send a packet with binary attachments and an ack", async () => {
        const socket = await initSocketIOConnection();
        socket.send(`452-789["message-with-ack",${PH0},${PH1}]`);
        socket.send(Buffer.from([1, 2, 3]));
        socket.send(Buffer.from([4, 5, 6]));
        const [header, a, b] = await socket.nextFrames(3);
        assert.equal(header, `462-789[${PH0},${PH1}]`);
        assertBinary(a, [1, 2, 3]);
        assertBinary(b, [4, 5, 6]);
      });

      it("should send a packet with binary attachments and an ack (Variant: leading plain arg)", async () => {
        const socket = await initSocketIOConnection();
        socket.send(`452-789["message-with-ack",1,${PH0},${PH1}]`);
        socket.send(Buffer.from([1, 2, 3]));
        socket.send(Buffer.from([4, 5, 6]));
        const [header, a, b] = await socket.nextFrames(3);
        assert.equal(header, `462-789[1,${PH0},${PH1}]`);
        assertBinary(a, [1, 2, 3]);
        assertBinary(b, [4, 5, 6]);
      });

      it("should close the connection upon invalid format (unknown packet type)", async () => {
        const socket = await initSocketIOConnection();
        socket.send("4abc");
        await socket.waitClosed(2000);
      });

      it("should close the connection upon invalid format (invalid payload format)", async () => {
        const socket = await initSocketIOConnection();
        socket.send("42{}");
        await socket.waitClosed(2000);
      });

      it("should close the connection upon invalid format (invalid ack id)", async () => {
        const socket = await initSocketIOConnection();
        socket.send('42abc["message-with-ack",1,"2",{"3":[false]}]');
        await socket.waitClosed(2000);
      });
    });

    describe("acknowledgements (Variant)", () => {
      it("should emit with an ack expectation", async () => {
        const socket = await initSocketIOConnection();
        socket.send('42["emit-with-ack",1,"2",{"3":[true]}]');
        assert.equal(await socket.nextNonPing(), '421["emit-with-ack",1,"2",{"3":[true]}]');
        socket.send('431[1,"2",{"3":[true]}]');
        assert.equal(await socket.nextNonPing(), '42["emit-with-ack",1,"2",{"3":[true]}]');
      });

      it("should emit with a binary ack expectation", async () => {
        const socket = await initSocketIOConnection();
        socket.send(`452-["emit-with-ack",${PH0},${PH1},"test"]`);
        socket.send(Buffer.from([1, 2, 3]));
        socket.send(Buffer.from([4, 5, 6]));
        {
          const [header, a, b] = await socket.nextFrames(3);
          assert.equal(header, `452-1["emit-with-ack",${PH0},${PH1},"test"]`);
          assertBinary(a, [1, 2, 3]);
          assertBinary(b, [4, 5, 6]);
        }
        socket.send(`462-1[${PH0},${PH1},"test"]`);
        socket.send(Buffer.from([1, 2, 3]));
        socket.send(Buffer.from([4, 5, 6]));
        {
          const [header, a, b] = await socket.nextFrames(3);
          assert.equal(header, `452-["emit-with-ack",${PH0},${PH1},"test"]`);
          assertBinary(a, [1, 2, 3]);
          assertBinary(b, [4, 5, 6]);
        }
      });
    });
  });
});
