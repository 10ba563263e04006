// End-to-end tests of the WebAssembly plugin runtime: the real portico binary serving
// namespaces with the echo and misbehaving plugin components, real socket.io-client v4
// clients, and a real plugins folder that the tests change under the running gateway.
//
// Every server gets a fresh temp folder with COPIES of the .wasm files (tests rewrite
// and delete them) and its own compile cache. Every client is tracked and closed.
// "Did not receive" is proven with a barrier on the receiving socket's own connection:
// it sends an event that is acked, and anything queued for it before arrives first.
//
// Plugin versions are identified exactly: the gateway logs `digest="…"`, which is
// Rust's DefaultHasher (SipHash-1-3, zero keys) over the file's bytes; `digest()` below
// computes the same value, so a test knows which file version a log line is about.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import {
  mkdtempSync,
  mkdirSync,
  copyFileSync,
  readFileSync,
  writeFileSync,
  renameSync,
  rmSync,
  unlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { io } from "socket.io-client";
import { startServer, sleep } from "./lib/server.mjs";
import { metric } from "./lib/metrics.mjs";

const here = dirname(fileURLToPath(import.meta.url));

/** Where the built plugin components are copied from. */
const SOURCE = process.env.PORTICO_PLUGINS_DIR ?? resolve(here, "../target/plugins");

/** INFO lines (plugin loaded / unloaded) are needed; colours are not. */
const LOG_ENV = { PORTICO_LOG: "info", NO_COLOR: "1" };

const INTERNAL = { message: "Internal error", code: "INTERNAL_ERROR" };
const EMIT_THEN_FAIL = { message: "failed after emitting", code: "WS_ERROR" };

/** One compile cache for the whole file, removed at the end. */
const CACHE = mkdtempSync(join(tmpdir(), "portico-e2e-plugins-cache-"));
after(() => rmSync(CACHE, { recursive: true, force: true }));

// ---------------------------------------------------------------- digests

const MASK = (1n << 64n) - 1n;
const rotl = (x, b) => ((x << b) | (x >> (64n - b))) & MASK;

/** Rust's `DefaultHasher` of a byte slice (`<[u8]>::hash`: length prefix, then bytes). */
function digest(bytes) {
  const len = bytes.length;
  const msg = Buffer.alloc(8 + len);
  msg.writeBigUInt64LE(BigInt(len), 0);
  Buffer.from(bytes).copy(msg, 8);
  let v0 = 0x736f6d6570736575n;
  let v1 = 0x646f72616e646f6dn;
  let v2 = 0x6c7967656e657261n;
  let v3 = 0x7465646279746573n;
  const round = () => {
    v0 = (v0 + v1) & MASK; v1 = rotl(v1, 13n); v1 ^= v0; v0 = rotl(v0, 32n);
    v2 = (v2 + v3) & MASK; v3 = rotl(v3, 16n); v3 ^= v2;
    v0 = (v0 + v3) & MASK; v3 = rotl(v3, 21n); v3 ^= v0;
    v2 = (v2 + v1) & MASK; v1 = rotl(v1, 17n); v1 ^= v2; v2 = rotl(v2, 32n);
  };
  const whole = msg.length - (msg.length % 8);
  for (let i = 0; i < whole; i += 8) {
    const m = msg.readBigUInt64LE(i);
    v3 ^= m;
    round();
    v0 ^= m;
  }
  let b = BigInt(msg.length & 0xff) << 56n;
  for (let i = whole; i < msg.length; i++) b |= BigInt(msg[i]) << BigInt(8 * (i - whole));
  v3 ^= b;
  round();
  v0 ^= b;
  v2 ^= 0xffn;
  round();
  round();
  round();
  return (v0 ^ v1 ^ v2 ^ v3).toString(16).padStart(16, "0");
}

// ---------------------------------------------------------------- plugin files

function uleb128(n) {
  const out = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** `base` plus a custom section "portico-test" naming `iteration`: valid, byte-different. */
function variant(base, iteration) {
  const name = Buffer.from("portico-test");
  const payload = Buffer.from(`iteration ${iteration} ${"x".repeat(iteration % 7)}`);
  const body = Buffer.from([...uleb128(name.length), ...name, ...payload]);
  return Buffer.concat([base, Buffer.from([0x00, ...uleb128(body.length)]), body]);
}

/** Writes `bytes` as `dir/name` atomically (temp file in the same folder, then rename). */
function writeAtomic(dir, name, bytes) {
  const tmp = join(dir, `.${name}.tmp`);
  writeFileSync(tmp, bytes);
  renameSync(tmp, join(dir, name));
}

/** Garbage that is not WebAssembly (no `\0asm` magic). */
const GARBAGE = Buffer.from("this is definitely not a WebAssembly component\n".repeat(20));

/**
 * A temp folder with a `plugins` subfolder holding copies of the given components,
 * as {file: sourceName} (e.g. {"slowcut.wasm": "misbehaving.wasm"}) or names.
 */
function pluginFolder(files) {
  const root = mkdtempSync(join(tmpdir(), "portico-e2e-plugins-"));
  const plugins = join(root, "plugins");
  mkdirSync(plugins);
  const map = Array.isArray(files) ? Object.fromEntries(files.map((f) => [f, f])) : files;
  for (const [to, from] of Object.entries(map)) copyFileSync(join(SOURCE, from), join(plugins, to));
  return { root, plugins };
}

/** Starts a server on `folder` with the given extra TOML (namespaces, settings). */
async function pluginServer(folder, toml) {
  const config = `[plugins]\ndir = ${JSON.stringify(folder.plugins)}\ncache_dir = ${JSON.stringify(CACHE)}\n\n${toml}`;
  const server = await startServer(config, { env: LOG_ENV });
  const stop = server.stop;
  server.stop = async () => {
    await stop();
    rmSync(folder.root, { recursive: true, force: true });
  };
  return server;
}

// ---------------------------------------------------------------- log parsing

// eslint-disable-next-line no-control-regex
const strip = (s) => s.replace(/\x1b\[[0-9;]*m/g, "");
/** Log records: a record starts with a timestamp and may span lines (multi-line errors). */
const logLines = (server) => strip(server.output()).split(/\n(?=\d{4}-\d\d-\d\dT)/);

/** Digests of every "plugin loaded" line for `name`, in order. */
function loaded(server, name) {
  const re = new RegExp(`plugin loaded plugin="${name}" .*digest="([0-9a-f]{16})"`);
  return logLines(server)
    .map((l) => l.match(re))
    .filter(Boolean)
    .map((m) => m[1]);
}

/** The "plugin rejected" lines for `name`. */
const rejected = (server, name) =>
  logLines(server).filter((l) => l.includes("plugin rejected") && l.includes(`plugin="${name}"`));

/** The "plugin unloaded" lines for `name`. */
const unloaded = (server, name) =>
  logLines(server).filter((l) => l.includes("plugin unloaded") && l.includes(`plugin="${name}"`));

/** Polls `pred` every 5 ms until truthy (resolves with it) or rejects after `ms`. */
async function waitFor(pred, ms, what, server) {
  const deadline = performance.now() + ms;
  for (;;) {
    const v = pred();
    if (v) return v;
    if (performance.now() > deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}${server ? `\n--- stderr ---\n${strip(server.output())}` : ""}`);
    }
    await sleep(5);
  }
}

// ---------------------------------------------------------------- clients

const clients = new Set();

function closeAll() {
  for (const s of clients) {
    s.disconnect();
    s.io?.engine?.close();
  }
  clients.clear();
}

/** Connects a client on its own Manager; rejects on connect_error or after `ms`. */
function connect(url, opts = {}, ms = 5000) {
  const s = io(url, { forceNew: true, reconnection: false, timeout: 5000, transports: ["websocket"], ...opts });
  clients.add(s);
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out connecting to ${url}`));
    }, ms);
    const onConnect = () => {
      cleanup();
      resolvePromise(s);
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

/**
 * Records every event `s` receives as {event, args}; `log.until(pred, ms)` resolves with
 * the first entry (at index ≥ `from`) matching `pred`, already recorded or arriving later.
 */
function record(s) {
  const log = [];
  const waiters = new Set();
  s.onAny((event, ...args) => {
    log.push({ event, args });
    for (const w of waiters) w();
  });
  log.until = (pred, ms = 5000, from = 0, what = "event") =>
    new Promise((resolvePromise, reject) => {
      const check = () => {
        const hit = log.slice(from).find(pred);
        if (!hit) return false;
        cleanup();
        resolvePromise(hit);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(log.slice(from))}`));
      }, ms);
      const cleanup = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      if (!check()) waiters.add(check);
    });
  return log;
}

/** emitWithAck that settles to {ack} or {noAck: error} instead of rejecting. */
function tryAck(s, ms, event, ...args) {
  return s
    .timeout(ms)
    .emitWithAck(event, ...args)
    .then(
      (ack) => ({ ack }),
      (noAck) => ({ noAck }),
    );
}

/**
 * Emits `event` on `s` (recorded by `log`), expects exactly one `error` event equal to
 * `expected` within 1000 ms and NO ack within 500 ms. Then proves the socket still works
 * (`fine` acks "ok"), which is also a barrier: nothing else arrived in between.
 * Resolves with the ms from emit to the error event.
 */
async function expectFailure(s, log, event, expected, payload = {}) {
  const from = log.length;
  const started = performance.now();
  const answer = tryAck(s, 500, event, payload);
  const error = await log.until((e) => e.event === "error", 1000, from, `error event after "${event}"`);
  const ms = performance.now() - started;
  assert.deepEqual(error.args, [expected], `error event of "${event}"`);
  const settled = await answer;
  assert.ok("noAck" in settled, `"${event}" must not be acked, got ${JSON.stringify(settled.ack)}`);
  assert.match(settled.noAck.message, /timed out/);
  assert.equal(await s.timeout(2000).emitWithAck("fine", { after: event }), "ok", `socket works after "${event}"`);
  assert.deepEqual(log.slice(from), [{ event: "error", args: [expected] }], `only the error reached the sender of "${event}"`);
  return ms;
}

// ================================================================ 1. echo

describe("echo plugin", () => {
  let server;
  before(async () => {
    server = await pluginServer(pluginFolder(["echo.wasm"]), `[namespaces."/"]\nplugins = ["echo"]\n`);
  });
  after(async () => {
    closeAll();
    await server?.stop();
  });

  const shapes = [
    ["object", { a: 1 }],
    ["empty object", {}],
    ["array", [1, "two", { three: 3 }, [4], null]],
    ["empty array", []],
    ["string", "hello, plugin"],
    ["empty string", ""],
    ["integer", 42],
    ["negative float", -1.5],
    ["tiny float", 1e-7],
    ["large integer", 9007199254740991],
    ["true", true],
    ["false", false],
    ["null", null],
    [
      "nested unicode",
      {
        "ключ": ["日本語", "emoji 🎉👍🏽", "quotes \" and \\ backslash", "\u0000\u001f control", { deep: [null, false, { "é": "ü" }] }],
        "🔑": { "中文": "值", "empty": {}, "list": [[], [[]]] },
      },
    ],
  ];

  for (const transport of ["websocket", "polling"]) {
    it(`acks every event with its first argument over ${transport}`, async () => {
      const s = await connect(server.url, { transports: [transport] });
      const log = record(s);
      assert.equal(s.io.engine.transport.name, transport);
      for (const [what, payload] of shapes) {
        assert.deepEqual(await s.timeout(2000).emitWithAck("x", payload), payload, `${transport}: ${what}`);
      }
      // Only the first argument is the payload; an event without one is acked with null.
      assert.deepEqual(await s.timeout(2000).emitWithAck("two-args", { first: 1 }, { second: 2 }), { first: 1 });
      assert.equal(await s.timeout(2000).emitWithAck("no-args"), null);
      // The event name does not matter to echo.
      assert.deepEqual(await s.timeout(2000).emitWithAck("événement 🎈", [1]), [1]);
      assert.equal(s.io.engine.transport.name, transport);
      assert.deepEqual([...log], [], "echo never emits");
      s.disconnect();
    });
  }
});

describe("echo plugin: binary payloads come back byte-identical", () => {
  let server;
  before(async () => {
    // A 900 KB Buffer goes up a polling POST as base64 (1.2 MB), as with Node's server.
    server = await pluginServer(
      pluginFolder(["echo.wasm"]),
      `[engineio]\nmax_payload = 2000000\n\n[namespaces."/"]\nplugins = ["echo"]\n`,
    );
  });
  after(async () => {
    closeAll();
    await server?.stop();
  });

  /** Binary as `{bin: hex}` wherever it is, so sent and acked values compare deeply. */
  function normalize(value) {
    if (Buffer.isBuffer(value) || value instanceof Uint8Array) return { bin: Buffer.from(value).toString("hex") };
    if (value instanceof ArrayBuffer) return { bin: Buffer.from(value).toString("hex") };
    if (Array.isArray(value)) return value.map(normalize);
    if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalize(v)]));
    return value;
  }

  /** True when `value` is bytes as the client decodes them (not a placeholder object). */
  const isBinary = (value) => Buffer.isBuffer(value) || value instanceof ArrayBuffer || value instanceof Uint8Array;

  const big = Buffer.alloc(900 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7919 + (i >> 8)) & 0xff;
  const cases = [
    ["a Buffer", Buffer.from([0, 1, 2, 127, 128, 254, 255])],
    ["an empty Buffer", Buffer.alloc(0)],
    ["nested Buffers", { name: "files", parts: [Buffer.from("one"), { deep: [Buffer.from([9, 9]), "text", null] }], last: Buffer.from([0]) }],
    ["a 900 KB Buffer", big],
  ];

  for (const transport of ["websocket", "polling"]) {
    it(`every shape, and 50 concurrent binary acks each with its own bytes, over ${transport}`, async () => {
      const s = await connect(server.url, { transports: [transport] });
      assert.equal(s.io.engine.transport.name, transport);
      for (const [what, payload] of cases) {
        const ack = await s.timeout(5000).emitWithAck("bin", payload);
        assert.deepEqual(normalize(ack), normalize(payload), `${transport}: ${what}`);
      }
      assert.ok(isBinary(await s.timeout(2000).emitWithAck("bin", Buffer.from([1]))), "a Buffer comes back as bytes, not a placeholder");
      const sent = Array.from({ length: 50 }, (_, i) => ({ i, data: Buffer.from(`payload ${i} `.repeat(i + 1)) }));
      const acks = await Promise.all(sent.map((p) => s.timeout(5000).emitWithAck("bin", p)));
      acks.forEach((ack, i) => assert.deepEqual(normalize(ack), normalize(sent[i]), `${transport}: concurrent ack ${i}`));
      assert.equal(s.io.engine.transport.name, transport);
      s.disconnect();
    });
  }
});

// ================================================================ 2. misbehaving

describe("misbehaving plugin is contained", () => {
  let server;
  let bad; // the socket that asks for trouble, on /bad
  let badLog;
  let watcher; // a second client on /bad that must never get a failed call's emits
  let watcherLog;
  let peer; // a client on / (echo) that must keep working
  let peerLog;

  before(async () => {
    server = await pluginServer(
      pluginFolder({ "echo.wasm": "echo.wasm", "misbehaving.wasm": "misbehaving.wasm", "slowcut.wasm": "misbehaving.wasm" }),
      [
        `[plugins.settings.slowcut]`,
        `deadline_ms = 300`,
        `[namespaces."/"]`,
        `plugins = ["echo"]`,
        `[namespaces."/bad"]`,
        `plugins = ["misbehaving"]`,
        `[namespaces."/slow"]`,
        `plugins = ["slowcut"]`,
        ``,
      ].join("\n"),
    );
    bad = await connect(`${server.url}/bad`);
    badLog = record(bad);
    watcher = await connect(`${server.url}/bad`);
    watcherLog = record(watcher);
    peer = await connect(server.url);
    peerLog = record(peer);
  });

  after(async () => {
    closeAll();
    await server?.stop();
  });

  /** The echo peer still acks and the gateway is still running. */
  async function othersFine(tag) {
    assert.deepEqual(await peer.timeout(2000).emitWithAck("x", { tag }), { tag }, `echo peer after ${tag}`);
    assert.ok(server.alive(), `server alive after ${tag}`);
  }

  it("`loop` is cut at the 50 ms deadline: INTERNAL_ERROR, no ack, well under the 1 s cap", async () => {
    // While the loop runs, the echo namespace keeps answering.
    const during = (async () => {
      await sleep(10);
      const t = performance.now();
      const ack = await peer.timeout(1000).emitWithAck("x", "during the loop");
      return { ack, ms: performance.now() - t };
    })();
    const ms = await expectFailure(bad, badLog, "loop", INTERNAL);
    console.log(`# loop: error event ${ms.toFixed(1)} ms after the emit (deadline 50 ms)`);
    assert.ok(ms < 500, `loop must be cut near its 50 ms deadline, took ${ms.toFixed(1)} ms`);
    const d = await during;
    assert.equal(d.ack, "during the loop");
    console.log(`# loop: echo ack during the loop took ${d.ms.toFixed(1)} ms`);
    await othersFine("loop");
  });

  it("a per-plugin deadline_ms in the config is honoured (300 ms), and the echo answers meanwhile", async () => {
    const s = await connect(`${server.url}/slow`);
    const log = record(s);
    let loopDone = false;
    // 30 ms into the 300 ms loop the echo is asked: a runtime that waited for the loop
    // would answer after about 270 ms, and after the loop's error event.
    const during = (async () => {
      await sleep(30);
      const t = performance.now();
      const ack = await peer.timeout(2000).emitWithAck("x", "during the slow loop");
      return { ack, ms: performance.now() - t, beforeLoopEnded: !loopDone };
    })();
    const ms = await expectFailure(s, log, "loop", INTERNAL);
    loopDone = true;
    console.log(`# loop with deadline_ms = 300: error event after ${ms.toFixed(1)} ms`);
    assert.ok(ms >= 250, `deadline 300 ms cut the loop after only ${ms.toFixed(1)} ms`);
    assert.ok(ms < 1500, `deadline 300 ms cut the loop only after ${ms.toFixed(1)} ms`);
    const d = await during;
    console.log(`# echo ack while the 300 ms loop ran: ${d.ms.toFixed(1)} ms`);
    assert.equal(d.ack, "during the slow loop");
    assert.ok(d.beforeLoopEnded, "the echo answered only after the loop was cut: calls were serialised");
    assert.ok(d.ms < 150, `the echo took ${d.ms.toFixed(1)} ms while another namespace's plugin looped`);
    s.disconnect();
    await othersFine("slow loop");
  });

  for (const event of ["trap", "oom", "flood"]) {
    it(`\`${event}\` → INTERNAL_ERROR error event, no ack, socket still works`, async () => {
      await expectFailure(bad, badLog, event, INTERNAL);
      await othersFine(event);
    });
  }

  it("`emit-then-fail` → WS_ERROR, and its emit reaches nobody", async () => {
    const watcherFrom = watcherLog.length;
    await expectFailure(bad, badLog, "emit-then-fail", EMIT_THEN_FAIL);
    // Barrier on the watcher's own connection: its ack comes after anything the failed
    // call could have queued for it.
    assert.equal(await watcher.timeout(2000).emitWithAck("fine"), "ok");
    assert.deepEqual(watcherLog.slice(watcherFrom), [], "the watcher received nothing");
    await othersFine("emit-then-fail");
  });

  it("after all failures: nobody got `flood` or `should-not-arrive`, the gateway is alive", async () => {
    assert.equal(await watcher.timeout(2000).emitWithAck("fine"), "ok");
    assert.equal(await bad.timeout(2000).emitWithAck("fine"), "ok");
    await othersFine("all");
    const events = (log) => log.map((e) => e.event);
    assert.deepEqual(events(watcherLog), [], "watcher on /bad");
    assert.deepEqual(events(peerLog), [], "echo peer on /");
    assert.ok(!events(badLog).some((e) => e !== "error"), `sender got only error events: ${events(badLog)}`);
    assert.equal(bad.connected && watcher.connected && peer.connected, true, "no client was disconnected");
    // Each failure was logged by the gateway (the client only ever sees "Internal error").
    const failed = logLines(server).filter((l) => l.includes("plugin call failed"));
    assert.ok(failed.length >= 5, `expected "plugin call failed" warnings, got:\n${failed.join("\n")}`);
    // And counted, by plugin, world and kind of failure.
    const of = (name) => ({ plugin: name, world: "handler-plugin" });
    const errors = (name, error) => metric(server.url, "portico_plugin_errors_total", { ...of(name), error });
    assert.ok((await errors("misbehaving", "deadline")) >= 1, "the loop counted as a deadline hit");
    assert.ok((await errors("slowcut", "deadline")) >= 1, "the 300 ms loop counted as a deadline hit");
    assert.ok((await errors("misbehaving", "trap")) >= 1, "the trap counted");
    assert.ok((await errors("misbehaving", "memory")) >= 1, "oom counted as memory");
    assert.ok((await errors("misbehaving", "effects")) >= 1, "flood counted as too many effects");
    assert.equal(await errors("echo", "trap"), 0, "the echo plugin never failed");
    const calls = await metric(server.url, "portico_plugin_calls_total", of("echo"));
    assert.ok(calls >= 5, `echo calls counted: ${calls}`);
    assert.equal(
      await metric(server.url, "portico_plugin_call_seconds_count", of("echo")),
      calls,
      "every call is in the latency histogram",
    );
  });
});

describe("the plugin store's limits", () => {
  let server;
  before(async () => {
    server = await pluginServer(
      pluginFolder(["echo.wasm", "misbehaving.wasm"]),
      [
        `[plugins.limits]`,
        `kv_max_keys = 3`,
        `kv_max_value_bytes = 100`,
        `[namespaces."/"]`,
        `plugins = ["echo"]`,
        `[namespaces."/bad"]`,
        `plugins = ["misbehaving"]`,
        ``,
      ].join("\n"),
    );
  });
  after(async () => {
    closeAll();
    await server?.stop();
  });

  it("a write past kv_max_keys or kv_max_value_bytes ends the call; what fits still works", async () => {
    const bad = await connect(`${server.url}/bad`);
    const log = record(bad);
    const peer = await connect(server.url);
    // `store` sets its key, then counts in a key of its own ("stored"): 2 keys, then 3.
    assert.equal(await bad.timeout(2000).emitWithAck("store", { key: "a", bytes: 10 }), 1);
    assert.equal(await bad.timeout(2000).emitWithAck("store", { key: "b", bytes: 100 }), 2);
    // A fourth key is refused: the call traps, the client gets the internal error.
    await expectFailure(bad, log, "store", INTERNAL, { key: "c", bytes: 10 });
    // Rewriting a key it holds costs no place.
    assert.equal(await bad.timeout(2000).emitWithAck("store", { key: "a", bytes: 50 }), 3);
    // A value over 100 bytes is refused before it reaches the store.
    await expectFailure(bad, log, "store", INTERNAL, { key: "a", bytes: 101 });
    assert.equal(await peer.timeout(2000).emitWithAck("x", "still here"), "still here");
    const refused = (limit) => metric(server.url, "portico_limit_refusals_total", { limit });
    assert.equal(await refused("kv_max_keys"), 1);
    assert.equal(await refused("kv_max_value_bytes"), 1);
    // One line each from the store, naming the plugin and the limit (and the failed call's own).
    const lines = logLines(server).filter((l) => /imports: store write refused/.test(l));
    assert.equal(lines.length, 2, lines.join("\n"));
    assert.match(lines[0], /holds 3 keys in the store.*plugin="misbehaving" limit="kv_max_keys"/);
    assert.match(lines[1], /a value of 101 bytes is over plugins.limits.kv_max_value_bytes \(100\)/);
    assert.ok(server.alive());
  });
});

// ================================================================ 3. ack_errors

describe("a configured guard, validator or filter that is not loaded", () => {
  let server;
  before(async () => {
    server = await pluginServer(
      pluginFolder(["misbehaving.wasm"]),
      [
        `[namespaces."/guarded"]`,
        `plugins = ["misbehaving"]`,
        `guards = ["absent-guard"]`,
        `[namespaces."/validated"]`,
        `plugins = ["misbehaving"]`,
        `[namespaces."/validated".validators]`,
        `fine = ["absent-validator"]`,
        `[namespaces."/filtered"]`,
        `plugins = ["misbehaving"]`,
        `filters = ["absent-filter"]`,
        ``,
      ].join("\n"),
    );
  });
  after(async () => {
    closeAll();
    await server?.stop();
  });

  for (const [nsp, what] of [
    ["/guarded", "guard"],
    ["/validated", "validator"],
  ]) {
    it(`a missing ${what} fails closed: the handler never runs, the client gets INTERNAL_ERROR`, async () => {
      const s = await connect(`${server.url}${nsp}`);
      const log = record(s);
      // `fine` acks "ok" whenever the handler runs.
      const answer = await tryAck(s, 500, "fine", {});
      assert.ok("noAck" in answer, `the event went through a missing ${what}: acked ${JSON.stringify(answer.ack)}`);
      const error = await log.until((e) => e.event === "error", 1000);
      assert.deepEqual(error.args, [INTERNAL]);
      assert.ok(server.alive());
    });
  }

  it("a missing filter leaks no detail: the client gets exactly {message, code} of an internal error", async () => {
    const s = await connect(`${server.url}/filtered`);
    const log = record(s);
    for (const event of ["trap", "loop"]) {
      const from = log.length;
      const answer = await tryAck(s, 500, event, {});
      assert.ok("noAck" in answer);
      const error = await log.until((e) => e.event === "error", 1000, from);
      assert.deepEqual(error.args, [INTERNAL], `what "${event}" showed the client`);
    }
    assert.equal(await s.timeout(2000).emitWithAck("fine", {}), "ok", "the handler itself still serves");
  });
});

describe("ack_errors namespace", () => {
  let server;
  before(async () => {
    server = await pluginServer(
      pluginFolder(["misbehaving.wasm"]),
      `[namespaces."/strict"]\nplugins = ["misbehaving"]\nack_errors = true\n`,
    );
  });
  after(async () => {
    closeAll();
    await server?.stop();
  });

  async function ackedFailure(s, log, event, expected) {
    const from = log.length;
    const ack = await s.timeout(2000).emitWithAck(event, {});
    assert.deepEqual(ack, { error: expected }, `ack of "${event}"`);
    assert.equal(await s.timeout(2000).emitWithAck("fine"), "ok");
    assert.deepEqual(log.slice(from), [{ event: "error", args: [expected] }], `error event of "${event}"`);
  }

  it("a failure is acked with {error: {message, code}} as well as the error event", async () => {
    const s = await connect(`${server.url}/strict`);
    const log = record(s);
    for (const event of ["trap", "loop", "oom", "flood"]) await ackedFailure(s, log, event, INTERNAL);
    await ackedFailure(s, log, "emit-then-fail", EMIT_THEN_FAIL);
    // A success is acked plainly, not wrapped.
    assert.equal(await s.timeout(2000).emitWithAck("anything", { x: 1 }), "ok");
    // Without an ack callback only the error event arrives.
    const from = log.length;
    s.emit("trap", {});
    await log.until((e) => e.event === "error", 1000, from);
    assert.equal(await s.timeout(2000).emitWithAck("fine"), "ok");
    assert.deepEqual(log.slice(from), [{ event: "error", args: [INTERNAL] }]);
    assert.ok(server.alive());
    s.disconnect();
  });
});

// ================================================================ 4–7. the plugins folder

const ROOT_ECHO = `[namespaces."/"]\nplugins = ["echo"]\n`;
const ROOT_ECHO_BAD = `${ROOT_ECHO}[namespaces."/bad"]\nplugins = ["misbehaving"]\n`;

describe("plugins folder: hot reload", () => {
  const base = readFileSync(join(SOURCE, "echo.wasm"));
  const baseDigest = digest(base);
  let server;
  let folder;

  async function fresh(files, toml) {
    folder = pluginFolder(files);
    server = await pluginServer(folder, toml);
    // The digest computed here is the one the gateway logs: versions are identifiable.
    assert.deepEqual(loaded(server, "echo"), [baseDigest], "startup loaded the original echo once");
    return server;
  }

  // Each test starts its own server on its own folder.
  after(() => closeAll());
  const stop = async () => {
    closeAll();
    await server?.stop();
    server = undefined;
  };

  it("a broken echo.wasm is rejected and the old version keeps serving; broken.wasm affects nobody", async () => {
    try {
      await fresh(["echo.wasm", "misbehaving.wasm"], ROOT_ECHO_BAD);
      const s = await connect(server.url);
      const bad = await connect(`${server.url}/bad`);
      assert.deepEqual(await s.timeout(2000).emitWithAck("x", { v: 0 }), { v: 0 });

      writeFileSync(join(folder.plugins, "echo.wasm"), GARBAGE);
      const [line] = await waitFor(() => rejected(server, "echo").length > 0 && rejected(server, "echo"), 5000, `"plugin rejected" for echo`, server);
      assert.match(line, /not a valid WebAssembly component/, "the reason is named");
      assert.equal(
        await metric(server.url, "portico_plugin_reloads_total", { plugin: "echo", outcome: "rejected" }),
        1,
        "the rejected version is counted",
      );
      assert.equal(
        await metric(server.url, "portico_plugin_reloads_total", { plugin: "echo", outcome: "accepted" }),
        1,
        "the version loaded at start-up is counted",
      );
      assert.ok(line.includes(`serving=Some("${baseDigest}")`), `the original keeps serving: ${line}`);
      assert.deepEqual(await s.timeout(2000).emitWithAck("x", { v: 1, still: "old echo" }), { v: 1, still: "old echo" });
      assert.deepEqual(unloaded(server, "echo"), []);

      writeFileSync(join(folder.plugins, "broken.wasm"), GARBAGE);
      const [other] = await waitFor(() => rejected(server, "broken").length > 0 && rejected(server, "broken"), 5000, `"plugin rejected" for broken`, server);
      assert.match(other, /not a valid WebAssembly component/);
      assert.ok(other.includes("serving=None"), other);
      assert.deepEqual(await s.timeout(2000).emitWithAck("x", [2]), [2]);
      assert.equal(await bad.timeout(2000).emitWithAck("fine"), "ok");
      // A new connection is served too.
      const late = await connect(server.url);
      assert.deepEqual(await late.timeout(2000).emitWithAck("x", "late"), "late");
      assert.ok(server.alive());
    } finally {
      await stop();
    }
  });

  it("deleting echo.wasm unloads it (no ack); copying it back serves again", async () => {
    try {
      await fresh(["echo.wasm"], ROOT_ECHO);
      const s = await connect(server.url);
      const log = record(s);
      assert.deepEqual(await s.timeout(2000).emitWithAck("x", 1), 1);

      unlinkSync(join(folder.plugins, "echo.wasm"));
      await waitFor(() => unloaded(server, "echo").length === 1, 5000, `"plugin unloaded" for echo`, server);
      const answer = await tryAck(s, 500, "x", 2);
      assert.ok("noAck" in answer, `an unloaded plugin must not ack, got ${JSON.stringify(answer.ack)}`);
      assert.ok(s.connected, "the socket stays connected");
      assert.deepEqual([...log], [], "an unhandled event is not an error");

      const before = loaded(server, "echo").length;
      copyFileSync(join(SOURCE, "echo.wasm"), join(folder.plugins, "echo.wasm"));
      await waitFor(() => loaded(server, "echo").length > before, 5000, `a new "plugin loaded" for echo`, server);
      assert.equal(loaded(server, "echo").at(-1), baseDigest);
      assert.deepEqual(await s.timeout(2000).emitWithAck("x", 3), 3);
      assert.deepEqual([...log], []);
      assert.ok(server.alive());
    } finally {
      await stop();
    }
  });

  it("reload-to-live: a replaced echo.wasm is serving well under 3 s", async () => {
    try {
      await fresh(["echo.wasm"], ROOT_ECHO);
      const s = await connect(server.url);
      const samples = [];
      for (let i = 1; i <= 5; i++) {
        const bytes = variant(base, 1000 + i);
        const want = digest(bytes);
        assert.ok(!loaded(server, "echo").includes(want), "a version not seen before");
        const started = performance.now();
        writeAtomic(folder.plugins, "echo.wasm", bytes);
        await waitFor(() => loaded(server, "echo").includes(want), 5000, `"plugin loaded" with digest ${want}`, server);
        const ms = performance.now() - started;
        samples.push(ms);
        assert.deepEqual(await s.timeout(2000).emitWithAck("x", { i }), { i });
        await sleep(100);
      }
      const sorted = [...samples].sort((a, b) => a - b);
      console.log(
        `# reload-to-live (rename → "plugin loaded" with the new digest): ${samples.map((m) => m.toFixed(0)).join(", ")} ms; median ${sorted[2].toFixed(0)} ms`,
      );
      for (const ms of samples) assert.ok(ms < 3000, `reload took ${ms.toFixed(0)} ms`);
      assert.ok(server.alive());
    } finally {
      await stop();
    }
  });

  it(
    "one change → one reload: the watcher settles (no reload loop)",
    async () => {
      try {
        await fresh(["echo.wasm"], ROOT_ECHO);
        const bytes = variant(base, 7);
        const want = digest(bytes);
        writeAtomic(folder.plugins, "echo.wasm", bytes);
        await waitFor(() => loaded(server, "echo").includes(want), 5000, `"plugin loaded" ${want}`, server);
        writeFileSync(join(folder.plugins, "broken.wasm"), GARBAGE);
        await waitFor(() => rejected(server, "broken").length > 0, 5000, `"plugin rejected" for broken`, server);
        await sleep(1500); // ten debounce periods with nothing changing
        const reloads = loaded(server, "echo").length - 1;
        const rejections = rejected(server, "broken").length;
        console.log(`# 1.5 s after one change each: echo loaded ${reloads} times, broken rejected ${rejections} times`);
        assert.equal(reloads, 1, "echo.wasm changed once, so it is loaded once");
        assert.equal(rejections, 1, "broken.wasm was written once, so it is rejected once");
      } finally {
        await stop();
      }
    },
  );

  it("a reload while a call runs toward its deadline: the call is still cut at it, the next one runs the new version", async () => {
    const original = readFileSync(join(SOURCE, "misbehaving.wasm"));
    const slow = pluginFolder(["misbehaving.wasm"]);
    const slowServer = await pluginServer(
      slow,
      `[plugins.settings.misbehaving]\ndeadline_ms = 300\n[namespaces."/slow"]\nplugins = ["misbehaving"]\n`,
    );
    try {
      assert.deepEqual(loaded(slowServer, "misbehaving"), [digest(original)]);
      const s = await connect(`${slowServer.url}/slow`);
      const log = record(s);
      const started = performance.now();
      const answer = tryAck(s, 2000, "loop", {});
      await sleep(100);
      const next = variant(original, 42);
      writeAtomic(slow.plugins, "misbehaving.wasm", next);
      await waitFor(() => loaded(slowServer, "misbehaving").includes(digest(next)), 5000, "the new version loaded", slowServer);
      const error = await log.until((e) => e.event === "error", 3000, 0, "the running call's error");
      const ms = performance.now() - started;
      console.log(`# loop across a reload: cut after ${ms.toFixed(1)} ms (deadline 300 ms)`);
      assert.deepEqual(error.args, [INTERNAL]);
      assert.ok(ms >= 250 && ms < 1500, `the running call was cut after ${ms.toFixed(1)} ms, not near its 300 ms deadline`);
      assert.ok("noAck" in (await answer), "the cut call is not acked");
      assert.equal(await s.timeout(2000).emitWithAck("fine", {}), "ok", "the new version serves the next call");
      assert.ok(slowServer.alive());
    } finally {
      closeAll();
      await slowServer.stop();
    }
  });

  it("hot reload under load: 50 clients, 20 replacements + a burst, every ack in order", async () => {
    try {
      // Each client sends as fast as its acks come back, far past the default 200 events/s:
      // what is under test is the reload, not the rate limit (limits.test.mjs has that).
      await fresh(["echo.wasm"], `${ROOT_ECHO}[limits]\nevents_per_second = 0\n`);
      const N = 50;
      const RELOADS = 20;
      const sockets = await Promise.all(Array.from({ length: N }, () => connect(server.url)));
      const problems = []; // errors, disconnects, wrong or missing acks
      const acks = sockets.map(() => []);
      sockets.forEach((s, c) => {
        s.onAny((event, ...args) => problems.push(`client ${c} got event ${event} ${JSON.stringify(args)}`));
        s.on("disconnect", (reason) => problems.push(`client ${c} disconnected: ${reason}`));
        s.on("connect_error", (err) => problems.push(`client ${c} connect_error: ${err.message}`));
      });

      let running = true;
      const started = performance.now();
      const loops = sockets.map(async (s, c) => {
        for (let i = 1; running; i++) {
          const payload = { c, i, s: `client ${c} message ${i} ✓` };
          let ack;
          try {
            ack = await s.timeout(5000).emitWithAck("seq", payload);
          } catch (err) {
            problems.push(`client ${c} seq ${i}: ${err.message}`);
            return;
          }
          try {
            assert.deepEqual(ack, payload);
          } catch {
            problems.push(`client ${c} seq ${i}: wrong ack ${JSON.stringify(ack)}`);
            return;
          }
          acks[c].push(i);
        }
      });

      // 20 valid, byte-different versions renamed into place; each goes live, then the
      // next comes 150–250 ms later. (Writes closer together than the gateway's reload
      // cycle — 150 ms debounce + a compile, serialised in the watcher — are coalesced,
      // which is allowed; the burst below covers that.)
      const versions = [];
      const reloadMs = [];
      await sleep(200);
      for (let k = 1; k <= RELOADS; k++) {
        const bytes = variant(base, k);
        const want = digest(bytes);
        versions.push(want);
        const t = performance.now();
        writeAtomic(folder.plugins, "echo.wasm", bytes);
        await waitFor(() => loaded(server, "echo").includes(want), 5000, `version ${k} (${want}) loaded`, server);
        reloadMs.push(performance.now() - t);
        await sleep(150 + ((k * 37) % 101));
      }
      // A burst: 5 versions 30 ms apart; the last one written must be the one serving.
      const burst = [];
      for (let k = 1; k <= 5; k++) {
        const bytes = variant(base, 100 + k);
        burst.push(digest(bytes));
        writeAtomic(folder.plugins, "echo.wasm", bytes);
        await sleep(30);
      }
      const final = burst.at(-1);
      await waitFor(() => loaded(server, "echo").includes(final), 5000, `the final version ${final} loaded`, server);
      await sleep(300); // the final version serves load too
      running = false;
      await Promise.all(loops);
      const ms = performance.now() - started;

      const lines = loaded(server, "echo");
      const known = new Set([baseDigest, ...versions, ...burst]);
      const firstSeen = versions.map((v) => lines.indexOf(v));
      const burstLoaded = burst.filter((v) => lines.includes(v)).length;
      const total = acks.reduce((n, a) => n + a.length, 0);
      const sortedReload = [...reloadMs].sort((a, b) => a - b);
      console.log(
        `# hot reload under load: ${N} clients, ${RELOADS} paced replacements + a burst of ${burst.length}; ` +
          `${total} acks in ${ms.toFixed(0)} ms (${((total / ms) * 1000).toFixed(0)} acks/s); ` +
          `rename → live under load: min ${sortedReload[0].toFixed(0)} / median ${sortedReload[RELOADS >> 1].toFixed(0)} / ` +
          `max ${sortedReload.at(-1).toFixed(0)} ms; ${lines.length - 1} "plugin loaded" lines after startup; ` +
          `burst: ${burstLoaded}/${burst.length} versions loaded`,
      );

      assert.deepEqual(problems, [], "no errors, disconnects, timeouts or wrong acks");
      acks.forEach((a, c) => {
        assert.ok(a.length > 0, `client ${c} got acks`);
        assert.deepEqual(a, Array.from({ length: a.length }, (_, j) => j + 1), `client ${c} acks in order`);
      });
      assert.ok(lines.length - 1 >= RELOADS, `at least ${RELOADS} "plugin loaded" lines, got ${lines.length - 1}`);
      assert.ok(firstSeen.every((i, k) => i > 0 && (k === 0 || i > firstSeen[k - 1])), `all ${RELOADS} versions loaded, in order`);
      assert.deepEqual(lines.filter((d) => !known.has(d)), [], "only complete written versions were ever loaded");
      assert.equal(lines.at(-1), final, "the last version written is the one serving");
      assert.deepEqual(rejected(server, "echo"), [], "no version was rejected (renames are atomic)");
      assert.ok(sockets.every((s) => s.connected));
      assert.ok(server.alive());
    } finally {
      await stop();
    }
  });
});
