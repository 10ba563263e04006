// A client that stops reading is disconnected as a slow consumer, with a metric,
// while a client in the same room receives every message in order.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import WebSocket from "ws";
import { startServer, once } from "./lib/server.mjs";

const MESSAGES = 300;
const SIZE = 100_000;

describe("slow consumers", () => {
  let server;
  before(async () => {
    server = await startServer(`
[limits]
outbound_queue = 16
[engineio]
max_payload = 2000000
`);
  });
  after(() => server.stop());

  it("disconnects a client that stops reading, without slowing or losing messages for others", async () => {
    // The slow client: raw WebSocket, joins the room, then stops reading its socket.
    const slow = new WebSocket(`${server.wsUrl}/socket.io/?EIO=4&transport=websocket`);
    const frames = [];
    const next = () =>
      new Promise((resolve) => {
        if (frames.length) return resolve(frames.shift());
        slow.once("message", () => resolve(frames.shift()));
      });
    slow.on("message", (data) => frames.push(data.toString()));
    await once(slow, "open");
    assert.match(await next(), /^0\{/);
    slow.send("40");
    assert.match(await next(), /^40\{"sid":/);
    slow.send('420["join","big"]');
    assert.match(await next(), /^430\[\{"rooms":\[/);
    const slowClosed = once(slow, "close", 60_000);
    slow._socket.pause();

    const fast = io(server.url, { transports: ["websocket"], forceNew: true });
    const sender = io(server.url, { transports: ["websocket"], forceNew: true });
    try {
      await Promise.all([once(fast, "connect"), once(sender, "connect")]);
      await fast.emitWithAck("join", "big");
      const received = [];
      const allReceived = new Promise((resolve) => {
        fast.on("bulk", (seq, blob) => {
          assert.equal(blob.length, SIZE);
          received.push(seq);
          if (received.length === MESSAGES) resolve();
        });
      });
      const blob = "x".repeat(SIZE);
      for (let seq = 0; seq < MESSAGES; seq++) {
        await sender.emitWithAck("relay", { event: "bulk", args: [seq, blob], to: "big" });
      }
      await allReceived;
      assert.deepEqual(received, [...Array(MESSAGES).keys()], "every message, once, in order");

      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      const count = Number(metrics.match(/^portico_slow_consumer_disconnects_total (\d+)$/m)?.[1]);
      assert.ok(count >= 1, `slow consumer counted:\n${metrics}`);

      // Once it reads again, the slow client finds its connection closed by the server.
      slow._socket.resume();
      // 1008 if the close frame got through; 1006 if the server had to drop the socket
      // because the client's buffers were still full: both mean "closed by the server".
      const [code] = [await slowClosed].flat();
      assert.ok([1006, 1008].includes(code), `closed by the server, got code ${code}`);
      assert.ok(server.alive());
    } finally {
      fast.disconnect();
      sender.disconnect();
      slow.terminate();
    }
  });
});
