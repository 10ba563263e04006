// The `[limits]`: each refuses with a clear error to the client and a metric, and the
// clients within their limits go on unaffected. Events per second per socket (and
// the disconnect of a socket that keeps flooding), rooms per socket, namespaces per
// connection, connections in total, per address and per user, the handshake timeout.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { io } from "socket.io-client";
import { startServer, once, sleep } from "./lib/server.mjs";
import { clients, connected } from "./lib/clients.mjs";
import { RawSocket, request } from "./lib/raw.mjs";
import { metric } from "./lib/metrics.mjs";
import { sign, now } from "./lib/jwt.mjs";

const refusals = (url, limit) => metric(url, "portico_limit_refusals_total", { limit }).then((v) => v ?? 0);

describe("events per second per socket", () => {
  let server, client;
  before(async () => {
    server = await startServer(`
[limits]
events_per_second = 10
event_burst = 5
rate_limited_disconnect_after = 0
`);
    client = clients(server);
  });
  after(async () => {
    client.closeAll();
    await server.stop();
  });

  it("refuses events over the budget with RATE_LIMITED, refills at the rate, and spares the others", async () => {
    const flooder = await connected(client());
    const control = await connected(client());
    const errors = [];
    flooder.on("error", (e) => errors.push(e));
    const acked = [];
    for (let i = 0; i < 20; i++) flooder.emit("ping", i, () => acked.push(i));
    // A fence: an ack from the control client on the same server, then the flooder's
    // answers are in (each connection is handled in order, the fence after them).
    assert.deepEqual(await control.timeout(5000).emitWithAck("ping", "control"), "control");
    await sleep(100);
    // The burst passes (and what the bucket refilled meanwhile); every other event is
    // refused, each with its error and no ack.
    assert.ok(acked.length >= 5 && acked.length <= 8, `acked ${acked.length}: ${acked}`);
    assert.deepEqual(acked, [...Array(acked.length).keys()], "the first ones, in order");
    assert.equal(errors.length, 20 - acked.length, "one error per refused event");
    for (const e of errors) assert.deepEqual(e, { message: "too many events: slow down", code: "RATE_LIMITED" });
    assert.equal(await refusals(server.url, "events_per_second"), errors.length);
    assert.ok(flooder.connected, "refused, not disconnected (rate_limited_disconnect_after = 0)");

    // The bucket refills at 10 per second.
    await sleep(300);
    assert.equal(await flooder.timeout(2000).emitWithAck("ping", "again"), "again");
    // The control client never came near its own budget.
    for (let i = 0; i < 5; i++) assert.equal(await control.timeout(2000).emitWithAck("ping", i), i);
  });
});

describe("a socket that keeps flooding", () => {
  let server, client;
  before(async () => {
    server = await startServer(`
[limits]
events_per_second = 5
event_burst = 5
rate_limited_disconnect_after = 3
`);
    client = clients(server);
  });
  after(async () => {
    client.closeAll();
    await server.stop();
  });

  it("is disconnected from its namespace after its strikes; others are not", async () => {
    const flooder = await connected(client());
    const control = await connected(client());
    const gone = once(flooder, "disconnect");
    for (let i = 0; i < 200; i++) flooder.emit("ping", i);
    const [reason] = await gone;
    assert.equal(reason, "io server disconnect");
    assert.ok(control.connected);
    assert.equal(await control.timeout(2000).emitWithAck("ping", "still here"), "still here");
    assert.equal(await metric(server.url, "portico_socket_disconnects_total", { reason: "server namespace disconnect" }), 1);
  });
});

describe("rooms per socket", () => {
  let server, client;
  before(async () => {
    server = await startServer(`
[limits]
rooms_per_socket = 3
`);
    client = clients(server);
  });
  after(async () => {
    client.closeAll();
    await server.stop();
  });

  it("refuses a join past the limit whole, with ROOM_LIMIT, and counts it", async () => {
    const s = await connected(client());
    // Its own room, `a` and `b`: three.
    assert.deepEqual((await s.emitWithAck("join", ["a", "b"])).rooms, [s.id, "a", "b"].sort());
    assert.deepEqual((await s.emitWithAck("join", ["a"])).rooms, [s.id, "a", "b"].sort(), "a room it is in costs nothing");
    assert.deepEqual(await s.emitWithAck("join", ["c"]), {
      error: { message: "too many rooms for this socket", code: "ROOM_LIMIT" },
    });
    assert.deepEqual((await s.emitWithAck("rooms")).rooms, [s.id, "a", "b"].sort(), "nothing joined");
    assert.equal(await refusals(server.url, "rooms_per_socket"), 1);
    // Leaving makes room.
    await s.emitWithAck("leave", "a");
    assert.deepEqual((await s.emitWithAck("join", ["c"])).rooms, [s.id, "b", "c"].sort());
  });
});

describe("namespaces per connection", () => {
  let server;
  before(async () => {
    server = await startServer(`
[limits]
namespaces_per_client = 3
[namespaces."/"]
[namespaces."/a"]
[namespaces."/b"]
`);
  });
  after(() => server.stop());

  it("counts held namespaces and refused requests; past the limit the connection is closed", async () => {
    const raw = new RawSocket(`${server.wsUrl}/socket.io/?EIO=4&transport=websocket`);
    await raw.opened;
    assert.match(await raw.next(), /^0\{/);
    raw.send("40");
    assert.match(await raw.next(), /^40\{"sid":/);
    raw.send("40/nope,");
    assert.equal(await raw.next(), '44/nope,{"message":"Invalid namespace"}');
    raw.send("40/a,");
    assert.match(await raw.next(), /^40\/a,\{"sid":/);
    // Held: `/` and `/a`; refused: `/nope`. A fourth request is one too many.
    raw.send("40/b,");
    assert.equal(
      await raw.next(),
      '44/b,{"code":"NAMESPACE_LIMIT","data":{"code":"NAMESPACE_LIMIT"},"message":"too many namespaces for this connection"}',
    );
    await raw.waitClosed(5000);
    assert.equal(await refusals(server.url, "namespaces_per_client"), 1);

    // The same three namespaces on a fresh connection are fine.
    const s = io(`${server.url}/b`, { forceNew: true, reconnection: false, transports: ["websocket"] });
    try {
      await once(s, "connect");
    } finally {
      s.close();
    }
  });
});

describe("connections in total and per address", () => {
  let server;
  before(async () => {
    server = await startServer(`
[limits]
max_connections = 3
max_connections_per_ip = 2
`);
  });
  after(() => server.stop());

  /** A polling handshake from `localAddress`; resolves to `{status, body}`. */
  const handshake = (localAddress) =>
    new Promise((resolve, reject) => {
      const req = http.get(
        `${server.url}/socket.io/?EIO=4&transport=polling`,
        { localAddress, agent: false },
        (res) => {
          let body = "";
          res.on("data", (d) => (body += d));
          res.on("end", () => resolve({ status: res.statusCode, body }));
        },
      );
      req.on("error", reject);
    });

  it("refuses the address over its share with 429 and everyone past the total with 503", async () => {
    const sockets = [];
    try {
      for (let i = 0; i < 2; i++) {
        const s = io(server.url, { forceNew: true, reconnection: false, transports: ["websocket"] });
        sockets.push(s);
        await once(s, "connect");
      }
      // 127.0.0.1 holds two: its third is refused, on either transport.
      const third = await handshake("127.0.0.1");
      assert.equal(third.status, 429);
      assert.deepEqual(JSON.parse(third.body), { message: "too many connections from this address", code: "IP_CONNECTION_LIMIT" });
      const ws = new RawSocket(`${server.wsUrl}/socket.io/?EIO=4&transport=websocket`);
      await assert.rejects(ws.opened, (err) => err.status === 429);

      // Another loopback address has its own share, until the node is full.
      const other = await handshake("127.0.0.2");
      assert.equal(other.status, 200, other.body);
      const full = await handshake("127.0.0.3");
      assert.equal(full.status, 503);
      assert.equal(JSON.parse(full.body).code, "CONNECTION_LIMIT");

      assert.equal(await refusals(server.url, "max_connections_per_ip"), 2);
      assert.equal(await refusals(server.url, "max_connections"), 1);

      // A closed connection gives its place back.
      sockets.pop().close();
      let again;
      for (let i = 0; i < 50 && again?.status !== 200; i++) {
        await sleep(50);
        again = await handshake("127.0.0.1");
      }
      assert.equal(again.status, 200, "the place came back");
      // The connections the server holds still work.
      assert.ok(sockets[0].connected);
      assert.equal(await sockets[0].timeout(2000).emitWithAck("ping", 1), 1);
    } finally {
      sockets.forEach((s) => s.close());
    }
  });
});

describe("sockets per user", () => {
  const SECRET = "limits-secret";
  const token = (sub) => sign({ sub, exp: now() + 3600 }, SECRET);
  let server, client;
  before(async () => {
    server = await startServer(
      `
[auth]
secret = "\${JWT_SECRET}"
[limits]
max_connections_per_user = 2
[namespaces."/"]
auth = "required"
`,
      { env: { JWT_SECRET: SECRET } },
    );
    client = clients(server);
  });
  after(async () => {
    client.closeAll();
    await server.stop();
  });

  it("refuses a user's socket past the limit with USER_CONNECTION_LIMIT; other users and freed places are fine", async () => {
    const first = await connected(client("/", { auth: { token: token("7") } }));
    await connected(client("/", { auth: { token: token("7") } }));
    const third = client("/", { auth: { token: token("7") } });
    const err = await once(third, "connect_error");
    assert.equal(err.message, "too many connections for this user");
    assert.deepEqual(err.data, { code: "USER_CONNECTION_LIMIT" });
    await connected(client("/", { auth: { token: token("8") } }));
    assert.equal(await refusals(server.url, "max_connections_per_user"), 1);

    first.close();
    let back;
    for (let i = 0; i < 50; i++) {
      const s = client("/", { auth: { token: token("7") } });
      back = await Promise.race([once(s, "connect").then(() => true), once(s, "connect_error").then(() => false)]);
      if (back) break;
      await sleep(50);
    }
    assert.ok(back, "the closed socket's place came back");
  });
});

describe("handshake timeout", () => {
  let server;
  before(async () => {
    server = await startServer(`
[limits]
handshake_timeout_ms = 300
`);
  });
  after(() => server.stop());

  it("closes a connection that never finishes its request headers, and serves others meanwhile", async () => {
    const slow = net.connect(server.port, "127.0.0.1");
    await once(slow, "connect");
    slow.write("GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n");
    const closed = once(slow, "close", 10_000);
    const res = await request(`${server.url}/healthz`);
    assert.equal(res.status, 200);
    await closed;
    slow.destroy();
  });
});
