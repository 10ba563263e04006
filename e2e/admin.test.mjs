// The Socket.IO Admin UI's server side on the real binary, driven by socket.io-client
// exactly as the UI drives it (the browser test drives the UI itself): basic auth and
// sessions, `config`, `server_stats`, development mode's live view of sockets and
// rooms, the commands, read-only and production mode; and the UI's pages at /admin/,
// served with nothing loaded from the internet.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { io } from "socket.io-client";
import { startServer, once, sleep } from "./lib/server.mjs";
import { clients, connected } from "./lib/clients.mjs";
import { request } from "./lib/raw.mjs";
import { startRedis, waitReady } from "./lib/cluster.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const UI_DIR = process.env.PORTICO_ADMIN_UI_DIR ?? resolve(here, "../target/admin-ui");
// bcrypt (cost 8) of "portico-admin", as bcryptjs makes it.
const HASH = "$2a$08$fdv.e9zeiZmR2ipvF7xMQOm0TBIsymjYBLJTRSMG9NmxS2M8dp5Qe";
const LOGIN = { username: "admin", password: "portico-admin" };
const ALL_FEATURES = ["EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT", "AGGREGATED_EVENTS", "ALL_EVENTS"];

const config = (extra = "") => `
[admin_ui]
password_hash = "${HASH}"
ui_dir = ${JSON.stringify(UI_DIR)}
server_id = "e2e-node"
${extra}

[namespaces."/"]
handler = "echo"
`;

/** An admin socket as the UI opens it, with every event it receives recorded. */
function adminSocket(client, auth = LOGIN) {
  const s = client("/admin", { auth, withCredentials: true });
  s.seen = [];
  s.onAny((event, ...args) => s.seen.push({ event, args }));
  return s;
}

/** Resolves with the args of the first recorded `event` that `pred` accepts. */
async function seen(socket, event, pred = () => true, ms = 5000) {
  const deadline = performance.now() + ms;
  for (;;) {
    const hit = socket.seen.find((e) => e.event === event && pred(...e.args));
    if (hit) return hit.args;
    if (performance.now() > deadline) {
      throw new Error(`no "${event}" within ${ms} ms; seen: ${socket.seen.map((e) => e.event).join(", ")}`);
    }
    await sleep(10);
  }
}

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe("the Admin UI in development mode", () => {
  let server, client;
  before(async () => {
    server = await startServer(config());
    client = clients(server, {});
  });
  after(async () => {
    client.closeAll();
    await server.stop();
  });

  it("refuses a wrong password with the Node server's exact error", async () => {
    for (const auth of [{ username: "admin", password: "nope" }, { username: "root", password: LOGIN.password }, {}]) {
      const err = await once(client("/admin", { auth }), "connect_error");
      assert.equal(err.message, "invalid credentials");
      assert.equal(err.data, undefined);
    }
  });

  it("logs in: session, config, every socket, then the node's statistics", async () => {
    const user = await connected(client("/", { transports: ["websocket"] }));
    const admin = await connected(adminSocket(client));
    const [session] = await seen(admin, "session");
    assert.match(session, /^[0-9a-f]{16}$/);
    const [config] = await seen(admin, "config");
    assert.deepEqual(config, { supportedFeatures: ALL_FEATURES });
    const [sockets] = await seen(admin, "all_sockets");
    const listed = sockets.find((s) => s.id === user.id);
    assert.ok(listed, JSON.stringify(sockets));
    assert.equal(listed.nsp, "/");
    assert.equal(listed.transport, "websocket");
    assert.equal(typeof listed.clientId, "string");
    assert.deepEqual(listed.rooms, [user.id]);
    assert.deepEqual(listed.data, {});
    assert.equal(typeof listed.handshake.issued, "number");
    assert.equal(typeof listed.handshake.headers, "object");
    assert.equal(listed.handshake.address, "127.0.0.1");
    assert.equal(listed.handshake.auth, undefined, "the auth payload is never shown");
    assert.ok(sockets.some((s) => s.id === admin.id && s.nsp === "/admin"), "the admin socket is listed too");

    const [stats] = await seen(admin, "server_stats", () => true, 4000);
    assert.equal(stats.serverId, "e2e-node");
    assert.equal(stats.pid, server.proc.pid);
    assert.equal(typeof stats.hostname, "string");
    assert.ok(stats.uptime > 0);
    assert.ok(stats.clientsCount >= 2, `clientsCount ${stats.clientsCount}`);
    assert.equal(typeof stats.pollingClientsCount, "number");
    assert.ok(Array.isArray(stats.aggregatedEvents));
    for (const e of stats.aggregatedEvents) {
      assert.equal(e.timestamp % 1000, 0, "whole seconds");
      assert.ok(["rawConnection", "rawDisconnection", "packetsIn", "packetsOut", "bytesIn", "bytesOut"].includes(e.type), e.type);
      assert.ok(e.count > 0);
    }
    assert.deepEqual(
      stats.namespaces.map((n) => n.name),
      ["/", "/admin"],
    );
    assert.ok(stats.namespaces.find((n) => n.name === "/").socketsCount >= 1);

    // The UI logs in again with its session, and gets no new one.
    const resumed = await connected(adminSocket(client, { sessionId: session }));
    await seen(resumed, "config");
    assert.equal(resumed.seen.filter((e) => e.event === "session").length, 0);
  });

  it("streams sockets and rooms as they change, and runs the UI's commands", async () => {
    const admin = await connected(adminSocket(client));
    await seen(admin, "all_sockets");
    const user = await connected(client("/", { transports: ["websocket"] }));
    // socket.io-client forgets its id once disconnected.
    const uid = user.id;
    const [listed, at] = await seen(admin, "socket_connected", (s) => s.id === uid);
    assert.equal(listed.nsp, "/");
    assert.match(at, ISO);
    await seen(admin, "room_joined", (nsp, room, id) => nsp === "/" && room === user.id && id === user.id);

    // The client's own join, through the echo handler.
    assert.deepEqual((await user.timeout(2000).emitWithAck("join", "lobby")).rooms.sort(), [user.id, "lobby"].sort());
    await seen(admin, "room_joined", (nsp, room, id) => room === "lobby" && id === user.id);

    // The UI's join and leave name one socket by its own room.
    admin.emit("join", "/", "vip", user.id);
    await seen(admin, "room_joined", (nsp, room, id) => room === "vip" && id === user.id);
    assert.ok((await user.timeout(2000).emitWithAck("rooms")).rooms.includes("vip"));
    admin.emit("leave", "/", "vip", user.id);
    await seen(admin, "room_left", (nsp, room, id) => room === "vip" && id === user.id);
    assert.ok(!(await user.timeout(2000).emitWithAck("rooms")).rooms.includes("vip"));

    // An emit to the socket's room.
    admin.emit("emit", "/", user.id, "from-admin", { hello: 1 });
    assert.deepEqual(await once(user, "from-admin"), { hello: 1 });
    await seen(admin, "event_sent", (nsp, id, args) => id === uid && args[0] === "from-admin");

    // Events both ways: the echo handler sends an event without an ack back to its sender.
    const echoed = once(user, "hello");
    user.emit("hello", "a", 2);
    assert.deepEqual(await echoed, ["a", 2]);
    const [, , received, receivedAt] = await seen(admin, "event_received", (nsp, id, args) => id === uid && args[0] === "hello");
    assert.deepEqual(received, ["hello", "a", 2]);
    assert.match(receivedAt, ISO);
    const [, , sent] = await seen(admin, "event_sent", (nsp, id, args) => id === uid && args[0] === "hello");
    assert.deepEqual(sent, ["hello", "a", 2]);
    assert.ok(
      !admin.seen.some((e) => e.event.startsWith("event_") && e.args[0] === "/admin"),
      "the admin namespace's own events are not reported",
    );

    // And the disconnect button: the client hears `io server disconnect`.
    const reason = once(user, "disconnect");
    admin.emit("_disconnect", "/", false, user.id);
    // socket.io-client passes (reason, details).
    assert.equal((await reason)[0], "io server disconnect");
    const [nsp, id, why, when] = await seen(admin, "socket_disconnected", (n, i) => i === uid);
    assert.deepEqual([nsp, id, why], ["/", uid, "server namespace disconnect"]);
    assert.match(when, ISO);
    await seen(admin, "room_left", (n, room, i) => room === "lobby" && i === uid);
  });

  it("says when a socket's connection upgrades to WebSocket", async () => {
    const admin = await connected(adminSocket(client));
    await seen(admin, "all_sockets");
    const user = client("/", { transports: ["polling", "websocket"] });
    await connected(user);
    const uid = user.id;
    const [listed] = await seen(admin, "socket_connected", (s) => s.id === uid);
    assert.equal(listed.transport, "polling");
    const [update] = await seen(admin, "socket_updated", (u) => u.id === uid);
    assert.deepEqual(update, { id: uid, nsp: "/", transport: "websocket" });
    user.close();
  });

  it("serves the UI's pages at /admin/ with nothing from the internet", async () => {
    const redirect = await fetch(`${server.url}/admin`, { redirect: "manual" });
    assert.equal(redirect.status, 308);
    assert.equal(redirect.headers.get("location"), "/admin/");
    const index = await request(`${server.url}/admin/`);
    assert.equal(index.status, 200);
    assert.match(index.body, /<title>Socket.IO Admin UI<\/title>/);
    assert.doesNotMatch(index.body, /https?:\/\//, "no CDN link left");
    const assets = [...index.body.matchAll(/(?:href|src)="([^"]+)"/g)].map((m) => m[1]);
    assert.ok(assets.length >= 6, assets.join(" "));
    for (const asset of assets) {
      const res = await request(`${server.url}/admin/${asset}`);
      assert.equal(res.status, 200, asset);
    }
    const icons = await request(`${server.url}/admin/vendor/mdi/fonts/materialdesignicons-webfont.woff2`);
    assert.equal(icons.status, 200);
    assert.equal((await request(`${server.url}/admin/nothing-here.js`)).status, 404);
  });
});

describe("the Admin UI read-only, in production mode", () => {
  let server, client;
  before(async () => {
    server = await startServer(config('readonly = true\nmode = "production"'));
    client = clients(server, {});
  });
  after(async () => {
    client.closeAll();
    await server.stop();
  });

  it("offers statistics only, and ignores commands", async () => {
    const user = await connected(client("/", { transports: ["websocket"] }));
    const admin = await connected(adminSocket(client));
    const [config] = await seen(admin, "config");
    assert.deepEqual(config, { supportedFeatures: ["AGGREGATED_EVENTS"] });
    await seen(admin, "server_stats", () => true, 4000);
    admin.emit("_disconnect", "/", false, user.id);
    admin.emit("join", "/", "vip", user.id);
    // A fence: the admin socket's events are handled in order, the ack after them.
    await sleep(200);
    assert.ok(user.connected, "read-only: the disconnect was ignored");
    assert.ok(!(await user.timeout(2000).emitWithAck("rooms")).rooms.includes("vip"));
    const live = admin.seen.filter((e) => !["session", "config", "server_stats"].includes(e.event));
    assert.deepEqual(live.map((e) => e.event), [], "production mode streams nothing else");
  });
});

describe("the Admin UI on two nodes sharing Redis", () => {
  let redis, a, b, client;
  const node = (id) => `
[cluster]
adapter = "redis"
redis_url = "${redis.url}"

[admin_ui]
password_hash = "${HASH}"
server_id = "${id}"

[namespaces."/"]
handler = "echo"
`;
  before(async () => {
    redis = await startRedis();
    [a, b] = await Promise.all([startServer(node("node-a")), startServer(node("node-b"))]);
    await Promise.all([waitReady(a.url), waitReady(b.url)]);
    client = clients(a, {});
  });
  after(async () => {
    client.closeAll();
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.stop();
  });

  it("hears every node's statistics and sockets, and acts on another node's socket", async () => {
    const onB = io(b.url, { forceNew: true, reconnection: false, transports: ["websocket"] });
    try {
      await connected(onB);
      const uid = onB.id;
      const admin = await connected(adminSocket(client));
      const [sockets] = await seen(admin, "all_sockets");
      assert.ok(sockets.some((s) => s.id === uid && s.nsp === "/"), "fetchSockets reached node B");
      // Each node's server_stats, through the admin namespace's broadcast.
      await seen(admin, "server_stats", (s) => s.serverId === "node-a", 5000);
      await seen(admin, "server_stats", (s) => s.serverId === "node-b", 5000);
      // A socket arriving on node B is streamed to the UI on node A.
      const later = io(b.url, { forceNew: true, reconnection: false, transports: ["websocket"] });
      await connected(later);
      await seen(admin, "socket_connected", (s) => s.id === later.id);
      later.close();
      // The disconnect button for node B's socket.
      const reason = once(onB, "disconnect");
      admin.emit("_disconnect", "/", false, uid);
      assert.equal((await reason)[0], "io server disconnect");
      await seen(admin, "socket_disconnected", (n, id) => id === uid);
    } finally {
      onB.close();
    }
  });
});
