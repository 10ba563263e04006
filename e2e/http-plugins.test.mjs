// HTTP routes served by plugins, against the misbehaving HTTP plugin: what a plugin
// receives, and that a trap, a runaway loop, the memory cap, an unsendable answer or a
// refused emit is a 500 in NestJS's JSON shape with a log line, never a crash; that a
// missing plugin is a 503 until it is dropped in the folder; and that socket clients
// are unaffected throughout.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, copyFileSync, unlinkSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { io } from "socket.io-client";
import { startServer, once, sleep } from "./lib/server.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const SOURCE = process.env.PORTICO_PLUGINS_DIR ?? resolve(here, "../target/plugins");
const INTERNAL = { statusCode: 500, message: "Internal server error" };

describe("HTTP routes served by a plugin", () => {
  let server;
  let dir;
  let socket;
  const seen = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "portico-http-plugins-"));
    for (const name of ["echo.wasm", "http-misbehaving.wasm"]) copyFileSync(join(SOURCE, name), join(dir, name));
    const routes = ["trap", "loop", "oom", "bad-status", "bad-header", "huge", "emit-then-400", "emit-unknown-namespace"]
      .map((r) => `"GET /bad/${r}" = "http-misbehaving"`)
      .join("\n");
    server = await startServer(
      `
[plugins]
dir = "${dir}"
[plugins.limits]
deadline_ms = 50
memory_mb = 32
[http]
max_body_bytes = 65536
[http.routes]
${routes}
"POST /bad/echo" = "http-misbehaving"
"PUT /bad/echo" = "http-misbehaving"
"GET /missing" = "not-there"
[namespaces."/"]
plugins = ["echo"]
`,
      { env: { PORTICO_LOG: "warn,portico::plugins::registry=info", NO_COLOR: "1" } },
    );
    socket = io(server.url, { forceNew: true, reconnection: false });
    socket.onAny((event) => seen.push(event));
    await once(socket, "connect");
  });
  after(async () => {
    socket?.disconnect();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const get = async (path) => {
    const res = await fetch(server.url + path);
    return [res.status, await res.json()];
  };

  it("the plugin receives method, path, query, lower-case headers and the body", async () => {
    const res = await fetch(`${server.url}/bad/echo?a=1&b=two`, {
      method: "POST",
      headers: { "X-Custom": "Value", "content-type": "text/plain" },
      body: "hello body",
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/json");
    const got = await res.json();
    assert.deepStrictEqual([got.method, got.path, got.query, got.body], ["POST", "/bad/echo", "a=1&b=two", "hello body"]);
    assert.ok(got.headers.some(([n, v]) => n === "x-custom" && v === "Value"), JSON.stringify(got.headers));
    const put = await fetch(`${server.url}/bad/echo`, { method: "PUT", body: "" });
    assert.equal((await put.json()).method, "PUT", "one plugin serves several methods of a path");
  });

  for (const [route, why] of [
    ["trap", "a panic"],
    ["loop", "a runaway loop"],
    ["oom", "the memory cap"],
    ["bad-status", "status 1000"],
    ["bad-header", "a header name with a space"],
    ["huge", "a body over http.max_body_bytes"],
    ["emit-unknown-namespace", "an emit to a namespace that is not served"],
  ]) {
    it(`${why} (/bad/${route}) is a 500 {statusCode, message} with a log line; the gateway goes on`, async () => {
      const started = performance.now();
      assert.deepStrictEqual(await get(`/bad/${route}`), [500, INTERNAL]);
      const ms = performance.now() - started;
      assert.ok(ms < 1000, `answered in ${ms.toFixed(0)} ms`);
      await sleep(50);
      assert.match(server.output(), new RegExp(`plugin route failed.*plugin="?http-misbehaving.*path="?/bad/${route}`));
      assert.deepStrictEqual(await socket.timeout(2000).emitWithAck("still-alive", 1), 1);
      assert.ok(server.alive());
    });
  }

  it("a plugin that emits and then answers 400: its emit is not applied", async () => {
    const [status, body] = await get("/bad/emit-then-400");
    assert.deepStrictEqual([status, body], [400, { statusCode: 400, message: "refused after emitting", error: "Bad Request" }]);
    await socket.timeout(2000).emitWithAck("barrier", 1);
    assert.deepStrictEqual(
      seen.filter((e) => e === "should-not-arrive" || e === "lost"),
      [],
      "no emit of a failed or refused call reached the client",
    );
  });

  it("a request body over http.max_body_bytes is a 413 and never reaches the plugin", async () => {
    const res = await fetch(`${server.url}/bad/echo`, { method: "POST", body: "x".repeat(65537) });
    assert.deepStrictEqual([res.status, await res.json()], [413, { statusCode: 413, message: "Request body larger than 65536 bytes" }]);
  });

  it("a route whose plugin is not loaded is a 503 until the file is dropped in; deleting it goes back to 503", async () => {
    assert.deepStrictEqual(await get("/missing"), [503, { statusCode: 503, message: "Service Unavailable" }]);
    const echo = async () => (await fetch(`${server.url}/bad/echo`, { method: "POST", body: "" })).status;
    unlinkSync(join(dir, "http-misbehaving.wasm"));
    const deadline = Date.now() + 5000;
    while ((await echo()) !== 503) {
      assert.ok(Date.now() < deadline, "unloaded within 5 s");
      await sleep(50);
    }
    copyFileSync(join(SOURCE, "http-misbehaving.wasm"), join(dir, ".incoming.tmp"));
    renameSync(join(dir, ".incoming.tmp"), join(dir, "http-misbehaving.wasm"));
    while ((await echo()) !== 200) {
      assert.ok(Date.now() < deadline + 5000, "reloaded within 5 s");
      await sleep(50);
    }
  });
});
