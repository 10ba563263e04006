// The HTTP surface around the protocols: CORS, health and metrics endpoints, and the
// command line refusing bad configs with the key named.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { io } from "socket.io-client";
import { startServer, BIN, once } from "./lib/server.mjs";
import { metric } from "./lib/metrics.mjs";

const handshake = "/socket.io/?EIO=4&transport=polling";

describe("CORS with an origin allow-list and credentials", () => {
  let server;
  before(async () => {
    server = await startServer(`
[cors]
origins = ["https://app.example.com"]
credentials = true
`);
  });
  after(() => server.stop());

  it("answers a preflight from an allowed origin", async () => {
    const res = await fetch(server.url + handshake, {
      method: "OPTIONS",
      headers: {
        Origin: "https://app.example.com",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
      },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("access-control-allow-origin"), "https://app.example.com");
    assert.equal(res.headers.get("access-control-allow-credentials"), "true");
    assert.match(res.headers.get("access-control-allow-methods"), /POST/);
    assert.match(res.headers.get("access-control-allow-headers"), /content-type/i);
  });

  it("adds the headers to handshakes and to error responses", async () => {
    const ok = await fetch(server.url + handshake, { headers: { Origin: "https://app.example.com" } });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get("access-control-allow-origin"), "https://app.example.com");
    const bad = await fetch(server.url + "/socket.io/?EIO=4&transport=tobi", {
      headers: { Origin: "https://app.example.com" },
    });
    assert.equal(bad.status, 400);
    assert.deepEqual(await bad.json(), { code: 0, message: "Transport unknown" });
    assert.equal(bad.headers.get("access-control-allow-origin"), "https://app.example.com");
  });

  it("gives other origins no CORS headers", async () => {
    const res = await fetch(server.url + handshake, { headers: { Origin: "https://evil.example" } });
    assert.equal(res.headers.get("access-control-allow-origin"), null);
  });

  it("gives a preflight from another origin nothing to allow it", async () => {
    const res = await fetch(server.url + handshake, {
      method: "OPTIONS",
      headers: {
        Origin: "https://evil.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
      },
    });
    assert.equal(res.headers.get("access-control-allow-origin"), null, "the browser must block the request");
  });
});

describe("no CORS by default", () => {
  let server;
  before(async () => {
    server = await startServer("");
  });
  after(() => server.stop());

  it("sends no CORS headers when no origin is configured", async () => {
    const res = await fetch(server.url + handshake, { headers: { Origin: "https://app.example.com" } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("access-control-allow-origin"), null);
  });

  it("serves /healthz, /readyz with its checks, and Prometheus /metrics", async () => {
    const health = await fetch(server.url + "/healthz");
    assert.equal(await health.text(), "ok");
    const ready = await fetch(server.url + "/readyz");
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), {
      ready: true,
      checks: { listening: true, plugins_loaded: 0, cluster: "off" },
    });
    await fetch(server.url + "/socket.io/?EIO=9&transport=polling");
    const metrics = await (await fetch(server.url + "/metrics")).text();
    assert.match(metrics, /^# TYPE portico_connections_open gauge$/m);
    assert.ok(
      (await metric(server.url, "portico_rejected_requests_total", { error: "unsupported_protocol_version" })) >= 1,
    );
  });

  it("labels what it counts: connections by transport, sockets, events and acks by namespace", async () => {
    const before = {
      events: (await metric(server.url, "portico_events_in_total", { namespace: "/" })) ?? 0,
      acks: (await metric(server.url, "portico_acks_total", { namespace: "/" })) ?? 0,
      websocket: (await metric(server.url, "portico_connections_total", { transport: "websocket" })) ?? 0,
      closed: (await metric(server.url, "portico_disconnects_total")) ?? 0,
    };
    const socket = io(server.url, { transports: ["websocket"], reconnection: false });
    await once(socket, "connect");
    for (let i = 0; i < 3; i++) await socket.emitWithAck("ping", i);
    socket.emit("no-ack", 1);
    // The event without an ack is counted once the gateway has read it: the next ack
    // comes after it on the same connection.
    await socket.emitWithAck("ping", "last");
    assert.equal(await metric(server.url, "portico_connections_open", { transport: "websocket" }), 1);
    assert.equal(await metric(server.url, "portico_sockets_open", { namespace: "/" }), 1);
    assert.equal(await metric(server.url, "portico_events_in_total", { namespace: "/" }), before.events + 5);
    assert.equal(await metric(server.url, "portico_acks_total", { namespace: "/" }), before.acks + 4);
    assert.equal(
      await metric(server.url, "portico_connections_total", { transport: "websocket" }),
      before.websocket + 1,
    );
    socket.disconnect();
    const deadline = Date.now() + 5000;
    while ((await metric(server.url, "portico_connections_open", { transport: "websocket" })) !== 0) {
      assert.ok(Date.now() < deadline, "the closed connection is no longer open");
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(await metric(server.url, "portico_sockets_open", { namespace: "/" }), 0);
    assert.equal(await metric(server.url, "portico_disconnects_total"), before.closed + 1);
  });
});

describe("command line", () => {
  const dir = mkdtempSync(join(tmpdir(), "portico-cli-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const run = (toml, env = {}) => {
    const file = join(dir, `c${Math.random().toString(36).slice(2)}.toml`);
    writeFileSync(file, toml);
    return spawnSync(BIN, ["check", file], { encoding: "utf8", env: { ...process.env, ...env } });
  };

  it("accepts a valid file and expands ${VAR}", () => {
    const res = run('[server]\nlisten = "127.0.0.1:${E2E_PORT}"\n', { E2E_PORT: "4567" });
    assert.equal(res.status, 0, res.stderr);
    assert.match(res.stdout, /127\.0\.0\.1:4567/);
  });

  it("names the bad key and why", () => {
    const res = run('[engineio]\nping_interval_ms = "fast"\n');
    assert.notEqual(res.status, 0);
    assert.match(res.stderr, /engineio\.ping_interval_ms/);
    assert.match(res.stderr, /expected u64/);
  });

  it("names a missing environment variable", () => {
    const res = run('[server]\nlisten = "${E2E_SURELY_UNSET}"\n');
    assert.notEqual(res.status, 0);
    assert.match(res.stderr, /server\.listen.*E2E_SURELY_UNSET/);
  });

  it("refuses credentials with the wildcard origin, as browsers do", () => {
    const res = run('[cors]\norigins = ["*"]\ncredentials = true\n');
    assert.notEqual(res.status, 0);
    assert.match(res.stderr, /cors\.credentials/);
  });

  it("refuses an unknown key", () => {
    const res = run("[limits]\noutbound_queu = 3\n");
    assert.notEqual(res.status, 0);
    assert.match(res.stderr, /outbound_queu/);
  });
  it("--log-format json writes one JSON object per line, a connection's lifecycle at debug", async () => {
    const server = await startServer("", { env: { PORTICO_LOG_FORMAT: "json", PORTICO_LOG: "info,portico=debug" } });
    try {
      const socket = io(server.url, { transports: ["websocket"], reconnection: false });
      await once(socket, "connect");
      socket.disconnect();
      const deadline = Date.now() + 5000;
      const lines = () => server.output().split("\n").filter((l) => l.length > 0);
      while (!lines().some((l) => l.includes("session closed"))) {
        assert.ok(Date.now() < deadline, `no "session closed" line in:\n${server.output()}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      const records = lines().map((l) => JSON.parse(l));
      const messages = records.map((r) => r.message);
      for (const expected of ["portico listening", "session opened", "socket joined", "socket left", "session closed"]) {
        assert.ok(messages.includes(expected), `"${expected}" in ${JSON.stringify(messages)}`);
      }
      const closed = records.find((r) => r.message === "session closed");
      assert.equal(typeof closed.sid, "string");
      assert.equal(typeof closed.reason, "string");
      assert.equal(closed.level, "DEBUG");
    } finally {
      await server.stop();
    }
  });
});

describe("graceful shutdown", () => {
  it("closes every client and exits 0 on SIGTERM", async () => {
    const { io } = await import("socket.io-client");
    const { default: WebSocket } = await import("ws");
    const server = await startServer("");
    const polling = io(server.url, { transports: ["polling"], reconnection: false });
    const websocket = io(server.url, { transports: ["websocket"], reconnection: false });
    const native = new WebSocket(`${server.wsUrl}/ws`);
    await Promise.all([
      new Promise((r) => polling.once("connect", r)),
      new Promise((r) => websocket.once("connect", r)),
      new Promise((r) => native.once("open", r)),
    ]);
    const closed = Promise.all([
      new Promise((r) => polling.once("disconnect", r)),
      new Promise((r) => websocket.once("disconnect", r)),
      new Promise((r) => native.once("close", (code) => r(code))),
    ]);
    const exited = new Promise((r) => server.proc.once("exit", (code, signal) => r({ code, signal })));
    const started = Date.now();
    server.proc.kill("SIGTERM");
    const [, , nativeCode] = await closed;
    assert.equal(nativeCode, 1001, "native clients get 'going away'");
    assert.deepEqual(await exited, { code: 0, signal: null });
    assert.ok(Date.now() - started < 5000, "shutdown is prompt");
    await server.stop();
  });
});
