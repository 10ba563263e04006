// permessage-deflate on the real binary: socket.io-client (Node's `ws` underneath,
// which offers the extension by default) and raw `ws` clients negotiate it, messages
// over the threshold travel compressed both ways and arrive intact, a broadcast is
// compressed once for all its recipients, a client that asks for a smaller window or
// offers nothing still gets every message, and a decompression bomb closes only its
// sender, with 1009.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import WebSocket from "ws";
import { startServer, once, sleep } from "./lib/server.mjs";
import { metric } from "./lib/metrics.mjs";

const CONFIG = `
[websocket.compression]
enabled = true
threshold_bytes = 1024
level = 6

[limits]
events_per_second = 100000
event_burst = 100000
`;

/** 2 KB of JSON-ish text that compresses well, different per `n`. */
const message = (n, size = 2048) => {
  const unit = `{"id":${n},"user":"alice","text":"the quick brown fox jumps over the lazy dog"},`;
  return unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
};

/** The socket.io-client's WebSocket (the `ws` instance) once it is on WebSocket. */
const wsOf = (s) => s.io.engine.transport.ws;

/** What a `ws` client agreed to: the server's accepted parameters, or undefined. */
const agreed = (ws) => {
  const params = ws._extensions["permessage-deflate"]?.params;
  return params && { ...params };
};

/** Bytes the client's TCP socket has read so far. */
const bytesRead = (s) => wsOf(s)._socket.bytesRead;

const compressedBytes = async (server) => ({
  in: (await metric(server.url, "portico_compression_in_bytes_total")) ?? 0,
  out: (await metric(server.url, "portico_compression_out_bytes_total")) ?? 0,
});

describe("permessage-deflate", () => {
  let server;
  const made = [];
  const client = (opts = {}) => {
    const s = io(server.url, { forceNew: true, reconnection: false, transports: ["websocket"], ...opts });
    made.push(s);
    return s;
  };
  const connected = async (s) => {
    if (!s.connected) await once(s, "connect");
    return s;
  };
  before(async () => {
    server = await startServer(CONFIG);
  });
  after(async () => {
    made.forEach((s) => s.close());
    await server.stop();
  });

  it("socket.io-client negotiates it, and 2 KB messages cross compressed both ways, intact", async () => {
    const s = await connected(client());
    assert.deepEqual(agreed(wsOf(s)), { server_no_context_takeover: true });
    const before = bytesRead(s);
    const metricsBefore = await compressedBytes(server);
    for (let n = 0; n < 20; n++) {
      const text = message(n);
      // Acked with its own arguments: 2 KB out (the client compresses), 2 KB back.
      assert.equal(await s.emitWithAck("echo", text), text);
    }
    const read = bytesRead(s) - before;
    assert.ok(read < 20 * 2048 / 4, `20 acks of 2 KB took ${read} bytes on the wire`);
    const metricsAfter = await compressedBytes(server);
    assert.ok(metricsAfter.in - metricsBefore.in >= 20 * 2048, JSON.stringify([metricsBefore, metricsAfter]));
    assert.ok(metricsAfter.out - metricsBefore.out < (metricsAfter.in - metricsBefore.in) / 4);
  });

  it("messages under the threshold go as they are", async () => {
    const s = await connected(client());
    const before = bytesRead(s);
    const small = "x".repeat(900);
    assert.equal(await s.emitWithAck("echo", small), small);
    assert.ok(bytesRead(s) - before > 900, "sent uncompressed");
  });

  it("a broadcast to 30 clients is compressed once, and each gets it whole", async () => {
    const members = await Promise.all([...Array(30)].map(() => connected(client())));
    for (const m of members) await m.emitWithAck("join", "fanout");
    const plain = await connected(client({ perMessageDeflate: false }));
    await plain.emitWithAck("join", "fanout");
    assert.equal(agreed(wsOf(plain)), undefined, "it offered nothing, so nothing was agreed");
    const text = message(7, 20_000);
    const got = Promise.all([...members, plain].map((m) => once(m, "news")));
    const before = await compressedBytes(server);
    const sender = await connected(client({ perMessageDeflate: false }));
    await sender.emitWithAck("relay", { event: "news", args: [text], to: "fanout" });
    const received = await got;
    assert.ok(received.every((r) => r === text), "every copy intact");
    const after = await compressedBytes(server);
    const compressedIn = after.in - before.in;
    assert.ok(
      compressedIn < 2 * 20_100,
      `compressed ${compressedIn} bytes for 31 recipients: once, not once per recipient`,
    );
  });

  it("a client asking for a 10-bit window or no context takeover gets its own, correct stream", async () => {
    const url = `${server.wsUrl}/socket.io/?EIO=4&transport=websocket`;
    const ws = new WebSocket(url, {
      perMessageDeflate: { serverMaxWindowBits: 10, clientNoContextTakeover: true, threshold: 0 },
    });
    try {
      const frames = [];
      ws.on("message", (data) => frames.push(data.toString()));
      await once(ws, "open");
      assert.deepEqual(agreed(ws), {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        server_max_window_bits: 10,
      });
      ws.send("40");
      const deadline = performance.now() + 5000;
      while (!frames.some((f) => f.startsWith("40"))) {
        assert.ok(performance.now() < deadline, `no CONNECT: ${frames}`);
        await sleep(5);
      }
      for (let n = 0; n < 5; n++) {
        const text = message(n, 5000);
        ws.send(`42${n}["echo",${JSON.stringify(text)}]`);
        while (!frames.some((f) => f.startsWith(`43${n}`))) {
          assert.ok(performance.now() < deadline, `no ack ${n}`);
          await sleep(5);
        }
        assert.equal(frames.find((f) => f.startsWith(`43${n}`)), `43${n}[${JSON.stringify(text)}]`);
      }
    } finally {
      ws.terminate();
    }
  });

  it("a decompression bomb closes its sender with 1009, counted, and nobody else", async () => {
    const bystander = await connected(client());
    const refusedBefore = (await metric(server.url, "portico_limit_refusals_total", { limit: "max_payload" })) ?? 0;
    const ws = new WebSocket(`${server.wsUrl}/socket.io/?EIO=4&transport=websocket`, { perMessageDeflate: true });
    await once(ws, "open");
    const closed = once(ws, "close");
    // 10 MB of one character: some 10 KB compressed, ten times the 1 MB max_payload inflated.
    ws.send(`4${"a".repeat(10_000_000)}`, { compress: true });
    const [code] = await closed;
    assert.equal(code, 1009);
    const refusedAfter = await metric(server.url, "portico_limit_refusals_total", { limit: "max_payload" });
    assert.equal(refusedAfter, refusedBefore + 1);
    const text = message(1);
    assert.equal(await bystander.emitWithAck("echo", text), text, "the others go on");
  });

  it("after a polling → websocket upgrade, WebSocket messages are compressed", async () => {
    const s = await connected(client({ transports: ["polling", "websocket"] }));
    if (s.io.engine.transport.name !== "websocket") await once(s.io.engine, "upgrade");
    assert.deepEqual(agreed(wsOf(s)), { server_no_context_takeover: true });
    const before = bytesRead(s);
    const text = message(3, 10_000);
    assert.equal(await s.emitWithAck("echo", text), text);
    assert.ok(bytesRead(s) - before < 3000, `${bytesRead(s) - before} bytes for 10 KB`);
  });
});

describe("permessage-deflate on the native endpoint", () => {
  let server;
  before(async () => {
    server = await startServer(CONFIG);
  });
  after(() => server.stop());

  it("negotiates it and echoes a 20 KB {event, data} compressed", async () => {
    const ws = new WebSocket(`${server.wsUrl}/ws`, { perMessageDeflate: { threshold: 0 } });
    try {
      await once(ws, "open");
      assert.deepEqual(agreed(ws), { server_no_context_takeover: true });
      const data = message(9, 20_000);
      const reply = once(ws, "message");
      const before = ws._socket.bytesRead;
      ws.send(JSON.stringify({ event: "chat", data }));
      const [raw] = await reply;
      assert.deepEqual(JSON.parse(raw.toString()), { event: "chat", data });
      assert.ok(ws._socket.bytesRead - before < 5000, `${ws._socket.bytesRead - before} bytes for 20 KB`);
    } finally {
      ws.terminate();
    }
  });
});

describe("without [websocket.compression]", () => {
  let server;
  before(async () => {
    server = await startServer("");
  });
  after(() => server.stop());

  it("an offer is declined and messages go uncompressed", async () => {
    const s = io(server.url, { forceNew: true, reconnection: false, transports: ["websocket"] });
    try {
      await once(s, "connect");
      assert.equal(agreed(wsOf(s)), undefined);
      const before = bytesRead(s);
      const text = message(1, 5000);
      assert.equal(await s.emitWithAck("echo", text), text);
      assert.ok(bytesRead(s) - before > 5000);
    } finally {
      s.close();
    }
  });
});
