// Abuse, all at once, against one server, while two control clients exchange messages:
// slowloris on the HTTP port, half-open WebSocket upgrades, 10 000 namespaces asked for,
// ack ids past what an ack id can be, and 1 000 malformed frames on the native
// endpoint. Every attack is contained (closed, refused or answered with an error), and
// the control clients lose nothing.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { io } from "socket.io-client";
import WebSocket from "ws";
import { startServer, once, sleep } from "./lib/server.mjs";
import { RawSocket } from "./lib/raw.mjs";
import { metric } from "./lib/metrics.mjs";

const SLOWLORIS = 200;
const HALF_OPEN = 100;
const NAMESPACE_PROBES = 10;
const NAMESPACES_EACH = 1000;
const MALFORMED = 1000;

/** Resolves once `socket` is closed by the other side (or rejects after `ms`). */
const closedWithin = (socket, ms) =>
  new Promise((resolve, reject) => {
    if (socket.destroyed) return resolve();
    const timer = setTimeout(() => reject(new Error(`still open after ${ms} ms`)), ms);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
  });

/** A TCP connection that sends a request's headers a byte at a time, never finishing. */
async function slowloris(port) {
  const socket = net.connect(port, "127.0.0.1");
  socket.on("error", () => {});
  await once(socket, "connect");
  const request = "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
  socket.write(request);
  const drip = setInterval(() => {
    if (!socket.destroyed) socket.write("a");
  }, 200);
  socket.once("close", () => clearInterval(drip));
  return socket;
}

/** A TCP connection that completes a WebSocket upgrade, then never sends a frame. */
async function halfOpenUpgrade(port) {
  const socket = net.connect(port, "127.0.0.1");
  socket.on("error", () => {});
  await once(socket, "connect");
  socket.write(
    [
      "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1",
      "Host: 127.0.0.1",
      "Upgrade: websocket",
      "Connection: Upgrade",
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Version: 13",
      "",
      "",
    ].join("\r\n"),
  );
  let head = "";
  socket.on("data", (d) => (head += d.toString("latin1")));
  return { socket, head: () => head };
}

describe("abuse while control clients exchange messages", () => {
  let server;
  before(async () => {
    server = await startServer(`
[limits]
handshake_timeout_ms = 1000
[socketio]
connect_timeout_ms = 1000
`);
  });
  after(() => server.stop());

  it("every attack is contained and the control clients lose nothing", { timeout: 120_000 }, async () => {
    // ---- the control pair: A relays a numbered message to the room B is in, with acks.
    const a = io(server.url, { forceNew: true, reconnection: false, transports: ["websocket"] });
    const b = io(server.url, { forceNew: true, reconnection: false, transports: ["websocket"] });
    await Promise.all([once(a, "connect"), once(b, "connect")]);
    await b.emitWithAck("join", "ctl");
    const got = [];
    b.on("seq", (n) => got.push(n));
    const disconnects = [];
    a.on("disconnect", (r) => disconnects.push(`a: ${r}`));
    b.on("disconnect", (r) => disconnects.push(`b: ${r}`));
    let stop = false;
    let sent = 0;
    const control = (async () => {
      while (!stop) {
        const ack = await a.timeout(5000).emitWithAck("relay", { event: "seq", data: sent, to: "ctl" });
        assert.deepEqual(ack, { ok: true });
        sent++;
        await sleep(5);
      }
    })();

    // ---- the attacks, all at once.
    const loris = await Promise.all(Array.from({ length: SLOWLORIS }, () => slowloris(server.port)));
    const halfOpen = await Promise.all(Array.from({ length: HALF_OPEN }, () => halfOpenUpgrade(server.port)));

    const probes = Array.from({ length: NAMESPACE_PROBES }, async () => {
      const raw = new RawSocket(`${server.wsUrl}/socket.io/?EIO=4&transport=websocket`);
      await raw.opened;
      for (let i = 0; i < NAMESPACES_EACH; i++) raw.send(`40/probe-${i},`);
      await raw.waitClosed(10_000);
      return raw.frames.filter((f) => typeof f === "string" && f.startsWith("44"));
    });

    const ackIds = (async () => {
      // One past u64::MAX: not an ack id. The connection is closed, as for any packet
      // that breaks the protocol; the server is fine.
      const over = new RawSocket(`${server.wsUrl}/socket.io/?EIO=4&transport=websocket`);
      await over.opened;
      over.send("40");
      over.send('4218446744073709551616["ping"]');
      await over.waitClosed(5000);
      // u64::MAX itself is an ack id, answered as such; 10 000 acks for ids the server
      // never used are ignored.
      const max = new RawSocket(`${server.wsUrl}/socket.io/?EIO=4&transport=websocket`);
      await max.opened;
      max.send("40");
      for (let i = 0; i < 10_000; i++) max.send(`43${1_000_000 + i}["stray"]`);
      max.send('4218446744073709551615["ping","max"]');
      let answer;
      for (let i = 0; i < 20 && answer === undefined; i++) {
        const frame = await max.nextNonPing(5000);
        if (typeof frame === "string" && frame.startsWith("43")) answer = frame;
      }
      assert.equal(answer, '4318446744073709551615["max"]', "acked with the arguments, as the echo handler does");
      await max.close();
    })();

    const native = (async () => {
      const ws = new WebSocket(`${server.wsUrl}/ws`);
      await once(ws, "open");
      const replies = [];
      ws.on("message", (d) => replies.push(JSON.parse(d.toString())));
      const junk = ["", "{", "[]", "null", '{"event":42}', '{"data":1}', "\u0000\u0001", '{"event":"x","data":'];
      for (let i = 0; i < MALFORMED; i++) ws.send(junk[i % junk.length]);
      ws.send(JSON.stringify({ event: "after", data: "the junk" }));
      const deadline = Date.now() + 10_000;
      while (!replies.some((r) => r.event === "after") && Date.now() < deadline) await sleep(20);
      const errors = replies.filter((r) => r.event === "error");
      assert.equal(errors.length, MALFORMED, "one error per malformed frame");
      assert.ok(errors.every((e) => e.data.code === "BAD_REQUEST"), JSON.stringify(errors.slice(0, 3)));
      assert.deepEqual(replies.at(-1), { event: "after", data: "the junk" }, "and the connection still serves");
      ws.close();
    })();

    // ---- each attack contained.
    await Promise.all(loris.map((s) => closedWithin(s, 10_000)));
    const upgrades = await Promise.all(
      halfOpen.map(async ({ socket, head }) => {
        await closedWithin(socket, 10_000);
        return head();
      }),
    );
    assert.ok(
      upgrades.every((h) => h.startsWith("HTTP/1.1 101")),
      "the upgrades were accepted, then closed when no namespace was joined",
    );
    const refusals = await Promise.all(probes);
    for (const errors of refusals) {
      // 32 unknown namespaces (namespaces_per_client), then the limit, once, and the close.
      assert.equal(errors.length, 33, `CONNECT_ERRORs before the close: ${errors.length}`);
      assert.ok(errors.slice(0, 32).every((e) => e.endsWith('{"message":"Invalid namespace"}')), errors[0]);
      assert.match(errors[32], /^44\/probe-32,.*"NAMESPACE_LIMIT"/);
    }
    await ackIds;
    await native;

    // ---- the control pair lost nothing.
    stop = true;
    await control;
    await a.timeout(5000).emitWithAck("relay", { event: "seq", data: "end", to: "ctl" });
    const deadline = Date.now() + 5000;
    while (got.at(-1) !== "end" && Date.now() < deadline) await sleep(20);
    assert.ok(sent > 20, `only ${sent} control messages went through during the attacks`);
    assert.deepEqual(got, [...Array(sent).keys(), "end"], "every control message, once, in order");
    assert.deepEqual(disconnects, []);
    assert.ok(server.alive());
    assert.equal(await metric(server.url, "portico_limit_refusals_total", { limit: "namespaces_per_client" }), NAMESPACE_PROBES);
    a.close();
    b.close();
  });
});
