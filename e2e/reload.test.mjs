// Live config reload on the real binary: SIGHUP, and `--watch-config` on a file
// replaced by a rename. Limits, CORS, auth keys, a namespace's plugin chain and a
// plugin's settings change while connected clients stay connected; a config that does
// not load changes nothing; what needs a restart is named in the log.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startServer, once, sleep } from "./lib/server.mjs";
import { clients, connected } from "./lib/clients.mjs";
import { request } from "./lib/raw.mjs";
import { metric } from "./lib/metrics.mjs";
import { sign } from "./lib/jwt.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const PLUGINS = process.env.PORTICO_PLUGINS_DIR ?? resolve(here, "../target/plugins");
const LOG_ENV = { PORTICO_LOG: "info", NO_COLOR: "1" };
const ORIGIN = "https://app.example";
const HANDSHAKE = "/socket.io/?EIO=4&transport=polling";

/** The log records that end a reload: applied or rejected. */
const outcomes = (server) =>
  server
    .output()
    .split("\n")
    .filter((l) => l.includes("config reloaded") || l.includes("config reload rejected"));

/**
 * Asks for a reload (SIGHUP unless `signal` is false: the file watch does it) and
 * resolves with the line that ends it.
 */
async function reload(server, { signal = true, ms = 5000 } = {}) {
  const before = outcomes(server).length;
  if (signal) server.proc.kill("SIGHUP");
  const deadline = performance.now() + ms;
  while (outcomes(server).length === before) {
    if (performance.now() > deadline) throw new Error(`no reload within ${ms} ms:\n${server.output()}`);
    await sleep(10);
  }
  return outcomes(server)[before];
}

const reloads = (server, outcome) =>
  metric(server.url, "portico_config_reloads_total", { outcome }).then((v) => v ?? 0);

/** Sends `n` acked events at once; resolves with how many were acked and the errors. */
async function burst(socket, n) {
  const errors = [];
  const onError = (e) => errors.push(e);
  socket.on("error", onError);
  const acks = await Promise.all(
    [...Array(n).keys()].map((i) => socket.timeout(1000).emitWithAck("ping", i).then(() => true, () => false)),
  );
  socket.off("error", onError);
  return { acked: acks.filter(Boolean).length, errors };
}

describe("SIGHUP", () => {
  const START = `
[limits]
events_per_second = 1000
event_burst = 1000
`;
  let server, client;
  before(async () => {
    server = await startServer(START, { env: LOG_ENV });
    client = clients(server);
  });
  after(async () => {
    client.closeAll();
    await server.stop();
  });

  it("applies new limits and CORS while connected clients stay connected", async () => {
    const before = await connected(client());
    const sid = before.id;
    const noCors = await request(server.url + HANDSHAKE, { headers: { Origin: ORIGIN } });
    assert.equal(noCors.status, 200);
    assert.equal(noCors.headers.get("access-control-allow-origin"), null, "no CORS configured yet");

    server.rewrite(`
[cors]
origins = ["${ORIGIN}"]

[limits]
events_per_second = 2
event_burst = 2
rate_limited_disconnect_after = 0
`);
    const line = await reload(server);
    assert.match(line, /config reloaded changed=\["cors", "limits"\]/);
    assert.equal(await reloads(server, "accepted"), 1);

    // The connected client is the same socket, on its old budget.
    assert.ok(before.connected);
    assert.equal(before.id, sid);
    const old = await burst(before, 10);
    assert.equal(old.acked, 10, "a socket keeps the event budget it was admitted with");
    assert.deepEqual(old.errors, []);

    // A socket connecting now gets the new budget.
    const after = await connected(client());
    const fresh = await burst(after, 10);
    assert.ok(fresh.acked >= 2 && fresh.acked <= 4, `acked ${fresh.acked} of 10 at 2/s with a burst of 2`);
    assert.equal(fresh.errors.length, 10 - fresh.acked);
    for (const e of fresh.errors) assert.equal(e.code, "RATE_LIMITED");

    // CORS, on a new connection and on a kept-alive one alike.
    const cors = await request(server.url + HANDSHAKE, { headers: { Origin: ORIGIN } });
    assert.equal(cors.status, 200);
    assert.equal(cors.headers.get("access-control-allow-origin"), ORIGIN);
  });

  it("rejects a config that does not load, with its error, and keeps the running one", async () => {
    const kept = await connected(client());
    server.rewrite(`
[limits]
events_per_second = "lots"
`);
    const line = await reload(server);
    assert.match(line, /config reload rejected; the running config stays/);
    assert.match(line, /limits\.events_per_second/, "the error names the key");
    assert.equal(await reloads(server, "rejected"), 1);
    assert.ok(server.alive());
    assert.ok(kept.connected);
    // Still the previous reload's limits: 2 per second.
    const fresh = await burst(await connected(client()), 10);
    assert.ok(fresh.acked <= 4, `acked ${fresh.acked}: the rejected config changed nothing`);
    const cors = await request(server.url + HANDSHAKE, { headers: { Origin: ORIGIN } });
    assert.equal(cors.headers.get("access-control-allow-origin"), ORIGIN);
  });

  it("names what needs a restart and keeps serving where it listens", async () => {
    server.rewrite(`
[server]
listen = "127.0.0.1:1"
path = "/elsewhere/"

[limits]
events_per_second = 1000
event_burst = 1000
`);
    const line = await reload(server);
    assert.match(line, /config reloaded changed=\["cors", "limits"\]/);
    const warning = server
      .output()
      .split("\n")
      .find((l) => l.includes("change only on restart"));
    assert.ok(warning, server.output());
    assert.match(warning, /keys=\["server\.path"\]/, "--listen overrides server.listen, so only the path changed");
    // Still on the same port and path, with the new limits.
    const s = await connected(client());
    assert.equal((await burst(s, 20)).acked, 20);
  });
});

describe("--watch-config", () => {
  let server, client;
  before(async () => {
    server = await startServer("", { env: LOG_ENV, args: ["--watch-config"] });
    client = clients(server);
  });
  after(async () => {
    client.closeAll();
    await server.stop();
  });

  it("reloads when the file is replaced, with no signal", async () => {
    const first = await connected(client());
    server.rewrite(`
[limits]
max_connections = 1
`);
    const line = await reload(server, { signal: false });
    assert.match(line, /config reloaded changed=\["limits"\]/);
    const refused = await request(server.url + HANDSHAKE);
    assert.equal(refused.status, 503);
    assert.equal(JSON.parse(refused.body).code, "CONNECTION_LIMIT");
    assert.ok(first.connected, "the connection already open stays");

    server.rewrite("");
    await reload(server, { signal: false });
    await connected(client());
  });
});

describe("auth keys", () => {
  const config = (secret) => `
[auth]
secret = "${secret}"

[namespaces."/"]
auth = "required"
`;
  let server, client;
  before(async () => {
    server = await startServer(config("first-secret"), { env: LOG_ENV });
    client = clients(server);
  });
  after(async () => {
    client.closeAll();
    await server.stop();
  });

  it("verifies new connections with the new secret; sockets verified before stay", async () => {
    const token = (secret) => sign({ sub: "7", exp: Math.floor(Date.now() / 1000) + 600 }, secret);
    const before = await connected(client("/", { auth: { token: token("first-secret") } }));
    server.rewrite(config("second-secret"));
    assert.match(await reload(server), /changed=\["auth"\]/);

    const stale = client("/", { auth: { token: token("first-secret") } });
    const err = await once(stale, "connect_error");
    assert.equal(err.message, "Unauthorized: Invalid token");
    await connected(client("/", { auth: { token: token("second-secret") } }));
    assert.ok(before.connected);
    assert.equal(await before.timeout(2000).emitWithAck("ping", "still here"), "still here");
  });
});

describe("plugin chains and plugin settings", () => {
  let server, client, root;
  const config = (extra) => `
[plugins]
dir = ${JSON.stringify(join(root ?? "", "plugins"))}

[namespaces."/p"]
plugins = ["echo"]
${extra}
`;
  before(async () => {
    root = mkdtempSync(join(tmpdir(), "portico-e2e-reload-"));
    mkdirSync(join(root, "plugins"));
    for (const name of ["echo", "room-guard"]) {
      copyFileSync(join(PLUGINS, `${name}.wasm`), join(root, "plugins", `${name}.wasm`));
    }
    server = await startServer(config(""), { env: LOG_ENV });
    client = clients(server);
  });
  after(async () => {
    client.closeAll();
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it("runs a guard added to the namespace for new connections; the connected socket stays", async () => {
    const before = await connected(client("/p"));
    assert.equal(await before.timeout(2000).emitWithAck("anything", 1), 1);
    server.rewrite(config(`guards = ["room-guard"]\nguard_connect = true`));
    assert.match(await reload(server), /changed=\["namespaces\.\\"\/p\\""\]/);

    const refused = client("/p");
    const err = await once(refused, "connect_error");
    assert.equal(err.message, "Unauthorized");
    assert.ok(before.connected);
    assert.equal(await before.timeout(2000).emitWithAck("anything", 2), 2, "the guard passes its other events");
  });

  it("reloads a plugin whose settings change, and the new settings serve", async () => {
    server.rewrite(config(`[plugins.settings.echo]\nevents = ["only-this"]`));
    const line = await reload(server);
    assert.match(line, /changed=\["plugins\.settings", "namespaces\.\\"\/p\\""\]/);
    assert.match(line, /plugins=\[\("echo", true\)\]/);
    // The guard is gone again, so a new client connects; echo now handles one event.
    const s = await connected(client("/p"));
    assert.equal(await s.timeout(2000).emitWithAck("only-this", 3), 3);
    await assert.rejects(s.timeout(300).emitWithAck("anything", 4), "no handler for it: no ack");
  });
});
