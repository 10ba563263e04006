// JWT at connect: every token location on both transports, every rejection reason
// as CONNECT_ERROR, optional auth, the native endpoint, and a storm of bad tokens
// that leaves the server healthy and other clients unaffected.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import WebSocket from "ws";
import { startServer, once } from "./lib/server.mjs";
import { sign, now } from "./lib/jwt.mjs";
import { metric } from "./lib/metrics.mjs";

const SECRET = "e2e-secret";
const good = (sub = "42", extra = {}) => sign({ sub, name: "alice", exp: now() + 3600, ...extra }, SECRET);

describe("JWT authentication at connect", () => {
  let server;
  const sockets = [];
  const client = (nsp, opts) => {
    const s = io(`${server.url}${nsp}`, { forceNew: true, reconnection: false, ...opts });
    sockets.push(s);
    return s;
  };
  const refused = async (nsp, opts) => {
    const s = client(nsp, opts);
    const err = await once(s, "connect_error");
    return err.message;
  };

  before(async () => {
    server = await startServer(`
[auth]
secret = "\${JWT_SECRET}"
[namespaces."/"]
handler = "echo"
[namespaces."/secure"]
handler = "echo"
auth = "required"
[namespaces."/maybe"]
handler = "echo"
auth = "optional"
`, { env: { JWT_SECRET: SECRET } });
  });
  after(async () => {
    sockets.forEach((s) => s.disconnect());
    await server.stop();
  });

  for (const transport of ["websocket", "polling"]) {
    for (const [where, opts] of [
      ["auth payload", () => ({ auth: { token: good() } })],
      ["query", () => ({ query: { token: good() } })],
      ["Authorization header", () => ({ extraHeaders: { Authorization: `Bearer ${good()}` } })],
    ]) {
      it(`accepts a token from the ${where} over ${transport}, and joins user:<sub>`, async () => {
        const s = client("/secure", { transports: [transport], ...opts() });
        await once(s, "connect");
        const { rooms } = await s.emitWithAck("rooms");
        assert.deepEqual(rooms, [s.id, "user:42"].sort());
      });
    }
  }

  it("refuses with the seed gateways' messages, and creates no socket", async () => {
    assert.equal(await refused("/secure", {}), "Unauthorized: No token provided");
    assert.equal(await refused("/secure", { auth: { token: "garbage" } }), "Unauthorized: Invalid token");
    assert.equal(
      await refused("/secure", { auth: { token: sign({ sub: "1", exp: now() - 3600 }, SECRET) } }),
      "Unauthorized: Token expired",
    );
    assert.equal(
      await refused("/secure", { auth: { token: sign({ sub: "1", exp: now() + 60 }, "wrong-secret") } }),
      "Unauthorized: Invalid token",
    );
    assert.equal(
      await refused("/secure", { auth: { token: sign({ sub: "1", exp: now() + 60 }, SECRET, { alg: "none" }) } }),
      "Unauthorized: Invalid token",
    );
    assert.equal(
      await refused("/secure", { auth: { token: sign({ sub: "1", exp: now() + 60 }, SECRET, { alg: "HS512" }) } }),
      "Unauthorized: Invalid token",
      "only HS256 is pinned",
    );
    const open = (await metric(server.url, "portico_sockets_open")) ?? 0;
    const connected = sockets.filter((s) => s.connected).length;
    assert.equal(open, connected, "the server holds exactly the sockets still connected: refused ones left none");
  });

  it("optional auth: anonymous without a token, refused with a bad one", async () => {
    const anon = client("/maybe", {});
    await once(anon, "connect");
    assert.deepEqual((await anon.emitWithAck("rooms")).rooms, [anon.id]);
    assert.equal(await refused("/maybe", { auth: { token: "bad" } }), "Unauthorized: Invalid token");
  });

  it("the native endpoint takes the token from the query or the header", async () => {
    const ok = new WebSocket(`${server.wsUrl}/ws/secure?token=${good("7")}`);
    await once(ok, "open");
    ok.send(JSON.stringify({ event: "rooms" }));
    const [data] = await once(ok, "message");
    const reply = JSON.parse(String(data));
    assert.ok(reply.data.rooms.includes("user:7"));
    ok.close();
    const header = new WebSocket(`${server.wsUrl}/ws/secure`, { headers: { Authorization: `Bearer ${good("8")}` } });
    await once(header, "open");
    header.send(JSON.stringify({ event: "rooms" }));
    const [headerData] = await once(header, "message");
    assert.ok(JSON.parse(String(headerData)).data.rooms.includes("user:8"), "the header's token decides who it is");
    header.close();
    const refusedWs = new WebSocket(`${server.wsUrl}/ws/secure`);
    const response = await once(refusedWs, "unexpected-response", 5000);
    assert.equal(response[1].statusCode, 401);
  });

  it("1000 bad-token attempts leave the server healthy and other clients unaffected", async () => {
    const healthy = client("/secure", { transports: ["websocket"], auth: { token: good("99") } });
    await once(healthy, "connect");
    let acks = 0;
    let pinging = true;
    const pinger = (async () => {
      while (pinging) {
        assert.equal(await healthy.timeout(2000).emitWithAck("ping", acks), acks);
        acks++;
      }
    })();
    const attempt = () =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(`${server.wsUrl}/socket.io/?EIO=4&transport=websocket`);
        ws.on("error", reject);
        ws.on("message", (data) => {
          const text = String(data);
          if (text.startsWith("0")) ws.send('40/secure,{"token":"not-a-token"}');
          else if (text.startsWith("44/secure,")) {
            ws.close();
            resolve(JSON.parse(text.slice("44/secure,".length)).message);
          }
        });
      });
    for (let batch = 0; batch < 10; batch++) {
      const messages = await Promise.all(Array.from({ length: 100 }, attempt));
      assert.ok(messages.every((m) => m === "Unauthorized: Invalid token"));
    }
    pinging = false;
    await pinger;
    assert.ok(acks > 0, "the healthy client kept getting acks throughout");
    assert.ok(healthy.connected);
    assert.ok(server.alive());
  });
});

describe("disconnect on token expiry", () => {
  it("disconnects a socket when its token expires, telling it why", async () => {
    const server = await startServer(`
[auth]
secret = "${SECRET}"
leeway_s = 0
disconnect_on_expiry = true
[namespaces."/"]
handler = "echo"
auth = "required"
`);
    // leeway_s = 0 so the test is short; the default 30 s leeway is tested on a paused
    // clock in host/tests/it/expiry.rs.
    const exp = now() + 2;
    const s = io(server.url, { transports: ["websocket"], reconnection: false, auth: { token: sign({ sub: "5", exp }, SECRET) } });
    try {
      await once(s, "connect");
      const error = once(s, "error", 5000);
      const reason = once(s, "disconnect", 5000);
      assert.deepEqual(await error, { message: "Unauthorized: Token expired", code: "TOKEN_EXPIRED" });
      const at = Date.now() / 1000;
      assert.ok(at >= exp, `told ${(exp - at).toFixed(3)} s before exp`);
      assert.ok(at < exp + 1, `told ${(at - exp).toFixed(3)} s after exp`);
      assert.equal([await reason].flat()[0], "io server disconnect");
      const longLived = io(server.url, { transports: ["websocket"], reconnection: false, auth: { token: good() } });
      await once(longLived, "connect");
      assert.equal(await longLived.emitWithAck("ping", 1), 1, "other sockets are unaffected");
      longLived.disconnect();
    } finally {
      s.disconnect();
      await server.stop();
    }
  });
});

describe("presence", () => {
  const KEY = "presence-e2e-operator-key";
  it("user_online to every socket on each connection, user_offline after a user's last tab; the endpoint lists them", async () => {
    const server = await startServer(`
[auth]
secret = "${SECRET}"
[api]
key = "${KEY}"
[namespaces."/"]
handler = "echo"
auth = "required"
presence = true
`);
    const open = [];
    const connect = async (sub, name) => {
      const s = io(server.url, { forceNew: true, reconnection: false, auth: { token: sign({ sub, username: name, exp: now() + 600 }, SECRET) } });
      open.push(s);
      const own = once(s, "user_online");
      await once(s, "connect");
      // The seed's handleConnection: `this.server.emit`, so the new socket is told too.
      assert.deepEqual(await own, { userId: sub, username: name });
      return s;
    };
    const list = async (nsp) =>
      fetch(`${server.url}/api/v1/presence?namespace=${nsp}`, { headers: { authorization: `Bearer ${KEY}` } });
    try {
      const observer = await connect("1", "olga");
      const events = [];
      observer.on("user_online", (u) => events.push(["online", u]));
      observer.on("user_offline", (u) => events.push(["offline", u]));
      const tab1 = await connect("42", "alice");
      const tab2 = await connect("42", "alice");
      assert.deepEqual(await (await list("/")).json(), {
        namespace: "/",
        users: [
          { userId: "1", username: "olga", sockets: 1 },
          { userId: "42", username: "alice", sockets: 2 },
        ],
      });
      tab1.disconnect();
      // Once the gateway counts one socket for alice, the observer's own ack is ordered
      // after anything the first tab's leaving caused.
      while ((await (await list("/")).json()).users.find((u) => u.userId === "42").sockets !== 1) {
        await new Promise((r) => setTimeout(r, 20));
      }
      await observer.emitWithAck("ping", 1);
      assert.deepEqual(
        events,
        [
          ["online", { userId: "42", username: "alice" }],
          ["online", { userId: "42", username: "alice" }],
        ],
        "online per connection; closing one of two tabs keeps alice online",
      );
      const offline = once(observer, "user_offline");
      tab2.disconnect();
      assert.deepEqual(await offline, { userId: "42", username: "alice" });
      assert.deepEqual((await (await list("/")).json()).users.map((u) => u.userId), ["1"]);
      assert.equal((await list("/nope")).status, 404);
      const anonymous = await fetch(`${server.url}/api/v1/presence?namespace=/`);
      assert.equal(anonymous.status, 401, "who is online is for the operator's key only");
    } finally {
      open.forEach((s) => s.disconnect());
      await server.stop();
    }
  });
});

describe("guard plugins at connect", () => {
  it("a guard refusing at connect is a CONNECT_ERROR with its message and code", async () => {
    const { mkdtempSync, cpSync, rmSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join, dirname, resolve } = await import("node:path");
    const { fileURLToPath } = await import("node:url");
    const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
    const plugins = mkdtempSync(join(tmpdir(), "portico-guard-"));
    cpSync(join(process.env.PORTICO_PLUGINS_DIR ?? join(root, "target/plugins"), "room-guard.wasm"), join(plugins, "room-guard.wasm"));
    cpSync(join(process.env.PORTICO_PLUGINS_DIR ?? join(root, "target/plugins"), "echo.wasm"), join(plugins, "echo.wasm"));
    const server = await startServer(`
[auth]
secret = "${SECRET}"
[plugins]
dir = "${plugins}"
[namespaces."/"]
auth = "optional"
plugins = ["echo"]
guards = ["room-guard"]
guard_events = ["join_room"]
guard_connect = true
`);
    const open = [];
    try {
      const anonymous = io(server.url, { forceNew: true, reconnection: false });
      open.push(anonymous);
      const err = await once(anonymous, "connect_error");
      assert.equal(err.message, "Unauthorized");
      const user = io(server.url, { forceNew: true, reconnection: false, auth: { token: good("3") } });
      open.push(user);
      await once(user, "connect");
      assert.deepEqual(await user.emitWithAck("anything", { a: 1 }), { a: 1 }, "guards only the listed events");
      const denied = once(user, "error");
      user.emit("join_room", { roomId: "private-1-2" });
      assert.deepEqual(await denied, { message: "Access denied to this room", code: "WS_ERROR" });
    } finally {
      open.forEach((s) => s.disconnect());
      await server.stop();
      rmSync(plugins, { recursive: true, force: true });
    }
  });
});
