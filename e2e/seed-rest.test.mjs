// The seeds' REST push, on deploy/chat.toml: the NotificationsController (`POST
// /notifications/send`) and the gateway's sendToUser/sendToRoom (`POST /broadcast`)
// served by the `notifications` HTTP plugin; the operator API (`/api/v1/emit`,
// `/api/v1/disconnect`, `/api/v1/presence`) behind its key; and the OpenAPI document,
// validated as OpenAPI 3.1 and checked against what the server really routes.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import SwaggerParser from "@apidevtools/swagger-parser";
import { once } from "./lib/server.mjs";
import { startDeployment, newUser, Clients, record, fence, API_KEY } from "./lib/deploy.mjs";

describe("seed REST push and the operator API on deploy/chat.toml", () => {
  let server;
  const clients = new Clients();
  const chat = (user, opts = {}) => clients.connect(`${server.url}/chat`, { user, ...opts });
  /** An event each namespace used here answers: `leave_room` on /chat, `message` on /events, the echo on `/`. */
  const answered = (socket) =>
    socket.nsp === "/chat"
      ? socket.timeout(2000).emitWithAck("leave_room", { roomId: "barrier-nobody-is-in" })
      : socket.timeout(2000).emitWithAck("message", "barrier");
  /** What `socket` sent is handled, and what any node sent it has arrived, once this resolves. */
  const barrier = (socket) => fence(server, socket, answered);
  /** POSTs `body` (an object, or a raw string) and resolves `{status, body}`. */
  const post = async (path, body, headers = {}) => {
    const res = await fetch(server.url + path, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed = text;
    try {
      parsed = JSON.parse(text);
    } catch {}
    return { status: res.status, body: parsed, headers: res.headers };
  };
  const operator = { authorization: `Bearer ${API_KEY}` };

  before(async () => {
    server = await startDeployment();
  });
  after(async () => {
    clients.closeAll();
    await server.stop();
  });

  // ------------------------------------------------------------ NotificationsController

  it("POST /notifications/send reaches every tab of user:<userId> in /chat, number or string id, 201 {success: true}", async () => {
    const alice = newUser();
    const tabs = [await chat(alice, { transports: ["websocket"] }), await chat(alice, { transports: ["polling"] })];
    const other = await chat(newUser());
    const elsewhere = await clients.connect(`${server.url}/events`, { user: alice });
    const logs = [...tabs, other].map(record);
    const elsewhereLog = record(elsewhere);

    const byNumber = await post("/notifications/send", { userId: alice.sub, message: "Your order shipped" });
    assert.deepStrictEqual([byNumber.status, byNumber.body], [201, { success: true }]);
    const byString = await post("/notifications/send", { userId: String(alice.sub), event: "order", data: { id: 7 } });
    assert.deepStrictEqual([byString.status, byString.body], [201, { success: true }]);
    for (const s of [...tabs, other]) await barrier(s);
    for (const log of logs.slice(0, 2)) {
      assert.deepStrictEqual(log.log, [
        ["notification", "Your order shipped"],
        ["order", { id: 7 }],
      ]);
    }
    assert.deepStrictEqual(logs[2].log, [], "another user gets nothing");
    await barrier(elsewhere);
    assert.deepStrictEqual(elsewhereLog.log, [], "the user's socket on /events gets nothing");
  });

  it("a user with no socket online is still a 201; bad input is a 400 naming the field", async () => {
    assert.deepStrictEqual((await post("/notifications/send", { userId: 999999, message: "nobody home" })).body, { success: true });
    const bad = [
      ["/notifications/send", "{not json", "Request body is not JSON"],
      ["/notifications/send", { message: "no user" }, "userId should not be empty"],
      ["/notifications/send", { userId: { id: 1 } }, "userId must be a string or a number"],
      ["/notifications/send", { userId: 1, event: "disconnect" }, "event `disconnect` is reserved by Socket.IO"],
      ["/broadcast", { data: 1 }, "event should not be empty"],
      ["/broadcast", { event: "x", room: 5 }, "room must be a string"],
    ];
    for (const [path, body, message] of bad) {
      assert.deepStrictEqual(await post(path, body).then(({ status, body }) => ({ status, body })), {
        status: 400,
        body: { statusCode: 400, message, error: "Bad Request" },
      }, `${path} ${JSON.stringify(body)}`);
    }
  });

  it("POST /broadcast emits to a room of /chat, or to all of /chat without one", async () => {
    const member = await chat(newUser());
    const nonMember = await chat(newUser());
    const onRoot = await clients.connect(server.url);
    await member.timeout(2000).emitWithAck("join_room", { roomId: "announcements" });
    const [memberLog, nonMemberLog, rootLog] = [member, nonMember, onRoot].map(record);
    assert.equal((await post("/broadcast", { room: "announcements", event: "news", data: { v: 1 } })).status, 201);
    assert.equal((await post("/broadcast", { event: "everyone", data: "hi" })).status, 201);
    await barrier(member);
    await barrier(nonMember);
    await barrier(onRoot);
    assert.deepStrictEqual(memberLog.log, [["news", { v: 1 }], ["everyone", "hi"]]);
    assert.deepStrictEqual(nonMemberLog.log, [["everyone", "hi"]]);
    assert.deepStrictEqual(rootLog.log, [], "only /chat");
  });

  // ------------------------------------------------------------ the operator API

  it("/api/v1/* refuses a missing or wrong key with 401 {message}, the key compared whole", async () => {
    for (const headers of [{}, { authorization: "Bearer wrong" }, { authorization: `Bearer ${API_KEY}x` }, { authorization: API_KEY }]) {
      const res = await post("/api/v1/emit", { namespace: "/chat", event: "e", data: 1 }, headers);
      assert.deepStrictEqual([res.status, res.body], [401, { message: "Unauthorized" }]);
      assert.equal(res.headers.get("www-authenticate"), "Bearer");
    }
    const presence = await fetch(`${server.url}/api/v1/presence?namespace=/chat`);
    assert.equal(presence.status, 401, "who is online is for operators only");
  });

  it("POST /api/v1/emit addresses rooms, users and sockets, minus except", async () => {
    const [a, b, c] = [newUser(), newUser(), newUser()];
    const sa = await chat(a);
    const sb = await chat(b);
    const sc = await chat(c);
    await sa.timeout(2000).emitWithAck("join_room", { roomId: "ops" });
    await sb.timeout(2000).emitWithAck("join_room", { roomId: "ops" });
    await sb.timeout(2000).emitWithAck("join_room", { roomId: "muted" });
    const logs = [sa, sb, sc].map(record);
    const emit = (body) => post("/api/v1/emit", { namespace: "/chat", ...body }, operator);
    assert.deepStrictEqual((await emit({ event: "to-room", data: 1, rooms: ["ops"], except: ["muted"] })).body, { ok: true });
    assert.equal((await emit({ event: "to-user", data: 2, users: [c.sub] })).status, 200);
    assert.equal((await emit({ event: "to-socket", data: 3, sockets: [sb.id] })).status, 200);
    assert.equal((await emit({ event: "to-all", data: null })).status, 200);
    const mine = (log) => log.log.filter(([e]) => e.startsWith("to-"));
    // On two nodes an emit made on one reaches the other's clients through Redis, after
    // the 200: the fence waits for it.
    for (const s of [sa, sb, sc]) await barrier(s);
    assert.deepStrictEqual(mine(logs[0]), [["to-room", 1], ["to-all", null]]);
    assert.deepStrictEqual(mine(logs[1]), [["to-socket", 3], ["to-all", null]]);
    assert.deepStrictEqual(mine(logs[2]), [["to-user", 2], ["to-all", null]]);
  });

  it("POST /api/v1/emit errors name the field", async () => {
    const cases = [
      [{ namespace: "/chat", data: 1 }, 400, "missing field `event`"],
      [{ namespace: "/chat", event: "e" }, 400, "missing field `data`"],
      [{ namespace: "/chat", event: "e", data: 1, users: [true] }, 400, "`users[0]`: expected a user id (a string or a number), found true"],
      [{ namespace: "/chat", event: "e", data: 1, rooms: "ops" }, 400, "`rooms`: invalid type: string \"ops\", expected a sequence"],
      [{ namespace: "/chat", event: "e", data: 1, extra: 1 }, 400, "`extra`: unknown field `extra`, expected one of `namespace`, `event`, `data`, `rooms`, `except`, `users`, `sockets`"],
      [{ namespace: "/chat", event: "connect", data: 1 }, 400, "`event`: `connect` cannot be emitted (empty, or reserved by Socket.IO)"],
      [{ namespace: "/nope", event: "e", data: 1 }, 404, "`namespace`: `/nope` is not served"],
      ["{oops", 400, "request body is not JSON: key must be a string"],
      [JSON.stringify({ namespace: "/chat", event: "e", data: "x".repeat(1_000_001) }), 413, "request body larger than http.max_body_bytes (1000000)"],
    ];
    for (const [body, status, message] of cases) {
      const res = await post("/api/v1/emit", body, operator);
      assert.deepStrictEqual([res.status, res.body], [status, { message }], String(body).slice(0, 80));
    }
  });

  it("POST /api/v1/disconnect disconnects every socket of a user, and /api/v1/presence sees it", async () => {
    const dave = newUser();
    const tabs = [await chat(dave), await chat(dave)];
    const bystander = await chat(newUser());
    const presence = async () =>
      (await (await fetch(`${server.url}/api/v1/presence?namespace=/chat`, { headers: operator })).json()).users.find(
        (u) => u.userId === String(dave.sub),
      );
    assert.deepStrictEqual(await presence(), { userId: String(dave.sub), username: dave.username, sockets: 2 });
    const reasons = tabs.map((t) => once(t, "disconnect").then(([reason]) => reason));
    const res = await post("/api/v1/disconnect", { namespace: "/chat", users: [dave.sub] }, operator);
    assert.deepStrictEqual([res.status, res.body], [200, { ok: true, disconnected: 2 }]);
    assert.deepStrictEqual(await Promise.all(reasons), ["io server disconnect", "io server disconnect"]);
    assert.equal(await presence(), undefined);
    assert.equal(bystander.connected, true);
    assert.deepStrictEqual(await bystander.timeout(2000).emitWithAck("leave_room", { roomId: "nobody-is-in" }), { left: "nobody-is-in" });
    const none = await post("/api/v1/disconnect", { namespace: "/chat" }, operator);
    assert.deepStrictEqual([none.status, none.body], [400, { message: "one of `rooms`, `users`, `sockets` must name at least one target" }]);
  });

  // ------------------------------------------------------------ OpenAPI

  it("GET /api/v1/openapi.json is valid OpenAPI 3.1, and every operation it lists is routed", async () => {
    const res = await fetch(`${server.url}/api/v1/openapi.json`);
    assert.equal(res.status, 200);
    const doc = await res.json();
    assert.equal(doc.openapi, "3.1.0");
    await SwaggerParser.validate(structuredClone(doc));
    const operations = Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((m) => [m.toUpperCase(), path]));
    assert.deepStrictEqual(
      operations.map(([m, p]) => `${m} ${p}`).sort(),
      [
        "GET /api/v1/openapi.json",
        "GET /api/v1/presence",
        "GET /api/v1/sockets",
        "GET /healthz",
        "GET /metrics",
        "GET /readyz",
        "GET /socket.io",
        "GET /socket.io/",
        "GET /ws",
        "GET /ws/{namespace}",
        "POST /api/v1/disconnect",
        "POST /api/v1/emit",
        "POST /broadcast",
        "POST /notifications/send",
        "POST /socket.io",
        "POST /socket.io/",
      ],
    );
    for (const [method, path] of operations) {
      const probe = await fetch(server.url + path.replace("{namespace}", "chat"), { method, body: method === "POST" ? "{}" : undefined });
      assert.ok(![404, 405].includes(probe.status), `${method} ${path} answered ${probe.status}`);
    }
    assert.equal((await fetch(`${server.url}/nope`)).status, 404, "the probe can fail");
  });
});
