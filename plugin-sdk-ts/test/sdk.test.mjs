// The SDK under Node with MockHost: what each plugin kind answers the gateway, as the
// WIT defines it (acks, errors, violations, filter output, HTTP responses), the
// payload codec, and the outbox (a call that throws applies nothing).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  gateway,
  validator,
  guard,
  filter,
  controller,
  WsException,
  PluginError,
  HttpException,
  ValidationFailed,
  dto,
  validationPipe,
  IsString,
  IsNotEmpty,
  IsOptional,
  IsInt,
  IsNumber,
  IsBoolean,
  MaxLength,
  MinLength,
} from "../dist/index.js";
import { decode, encode } from "../dist/payload.js";
import { PluginTest, MockHost } from "../dist/testing.js";

test("binary values travel as attachments and come back in their places", () => {
  const bytes = new Uint8Array([0, 1, 255]);
  const payload = encode({ name: "a.bin", body: bytes, more: [new Uint8Array([7]).buffer] });
  assert.equal(payload.json, '{"name":"a.bin","body":{"_placeholder":true,"num":0},"more":[{"_placeholder":true,"num":1}]}');
  assert.deepEqual(payload.attachments, [bytes, new Uint8Array([7])]);
  const back = decode(payload);
  assert.deepEqual(back.body, bytes);
  assert.deepEqual(back.more[0], new Uint8Array([7]));
  assert.equal(encode(undefined).json, "null");
  // Without attachments it is a plain event (socket.io-parser's EVENT): such an object is data.
  assert.deepEqual(decode({ json: '{"_placeholder":true,"num":3}', attachments: [] }), { _placeholder: true, num: 3 });
  assert.deepEqual(decode({ json: '[{"_placeholder":true,"num":3}]', attachments: [bytes] }), [null], "one past the end is null");
});

const chatty = gateway(
  {
    hello(client, data) {
      return { hi: data.name, id: client.id };
    },
    shout(client, data) {
      client.join("loud");
      client.to("loud").emit("shout", data);
      client.server.to("loud").except("quiet").emit("all", 1);
      client.broadcast.emit("others", 2);
      client.emit("me", 3);
    },
    nest(client) {
      return { event: "reply", data: { ok: true } };
    },
    fail(client) {
      client.emit("never", 1);
      throw new WsException("Access denied to this room");
    },
    failWithData() {
      throw new WsException({ message: "bad", field: "x" });
    },
    coded() {
      throw new PluginError("RATE", "slow down", { retryIn: 5 });
    },
    crash(client, data) {
      client.emit("never", 1);
      return data.text.length;
    },
    nobody(client) {
      client.server.to(undefined).emit("ghost", 1);
      return true;
    },
    later: async () => 1,
  },
  {
    handleConnection(client) {
      if (!client.user) throw new WsException("Unauthorized");
      client.join(`user:${client.user.sub}`);
    },
    serverEvents: {
      ping: (server, n) => ({ pong: n }),
    },
  },
);

test("an event's return value is its ack; none is no ack; unknown events are ignored", () => {
  const t = new PluginTest(chatty);
  const s = t.socket({ id: "s1" });
  assert.deepEqual(t.event(s, "hello", { name: "ann" }).ack, { hi: "ann", id: "s1" });
  assert.equal(t.event(s, "shout", "x").ack, undefined);
  const unknown = t.event(s, "nothing-here", 1);
  assert.equal(unknown.ack, undefined);
  assert.equal(unknown.error, undefined);
  assert.equal(t.event(s, "toString").error, undefined, "not a handler: Object's own methods are not events");
});

test("emits address rooms as Socket.IO does: client.to skips the sender, server.to does not", () => {
  const t = new PluginTest(chatty);
  const { emits, joins } = t.event(t.socket({ id: "s1" }), "shout", "x");
  assert.deepEqual(joins, [{ room: "loud", socket: undefined }]);
  assert.deepEqual(
    emits.map(({ event, to, exceptRooms, exceptSender, data }) => ({ event, to, exceptRooms, exceptSender, data })),
    [
      { event: "shout", to: { tag: "rooms", val: ["loud"] }, exceptRooms: [], exceptSender: true, data: "x" },
      { event: "all", to: { tag: "rooms", val: ["loud"] }, exceptRooms: ["quiet"], exceptSender: false, data: 1 },
      { event: "others", to: { tag: "all" }, exceptRooms: [], exceptSender: true, data: 2 },
      { event: "me", to: { tag: "socket", val: "s1" }, exceptRooms: [], exceptSender: false, data: 3 },
    ],
  );
  const ghost = t.event(t.socket(), "nobody");
  assert.deepEqual(ghost.emits, [], "server.to(undefined) reaches nobody");
  assert.equal(ghost.ack, true);
});

test("a returned {event, data} is NestJS's WsResponse: emitted to the sender, not acked", () => {
  const t = new PluginTest(chatty);
  const out = t.event(t.socket({ id: "s9" }), "nest");
  assert.equal(out.ack, undefined);
  assert.deepEqual(out.emits.map((e) => [e.event, e.to, e.data]), [["reply", { tag: "socket", val: "s9" }, { ok: true }]]);
});

test("a WsException is WS_ERROR with its message (and data); a failed call emits nothing", () => {
  const t = new PluginTest(chatty);
  const s = t.socket();
  const out = t.event(s, "fail");
  assert.deepEqual(out.error, { code: "WS_ERROR", message: "Access denied to this room", dataJson: undefined });
  assert.deepEqual(out.emits, []);
  assert.deepEqual(JSON.parse(t.event(s, "failWithData").error.dataJson), { message: "bad", field: "x" });
  assert.deepEqual(t.event(s, "coded").error, { code: "RATE", message: "slow down", dataJson: '{"retryIn":5}' });
});

test("anything else thrown is INTERNAL_ERROR 'Internal error', its detail logged, never sent", () => {
  const t = new PluginTest(chatty);
  const out = t.event(t.socket(), "crash", null);
  assert.deepEqual(out.error, { code: "INTERNAL_ERROR", message: "Internal error", dataJson: undefined });
  assert.deepEqual(out.emits, []);
  assert.equal(t.host.logs.at(-1).level, "error");
  assert.match(t.host.logs.at(-1).message, /TypeError/);
});

test("an async handler is refused with a clear log: host calls are synchronous", () => {
  const t = new PluginTest(chatty);
  assert.equal(t.event(t.socket(), "later").error.code, "INTERNAL_ERROR");
  assert.match(t.host.logs.at(-1).message, /synchronous/);
});

test("handleConnection may refuse with a WsException, and join rooms when it accepts", () => {
  const t = new PluginTest(chatty);
  assert.equal(t.connect(t.socket()).error.message, "Unauthorized");
  assert.deepEqual(t.connect(t.socket({ user: { sub: 7 } })).joins, [{ room: "user:7", socket: undefined }]);
});

test("a server event's handler answers for this node", () => {
  const t = new PluginTest(chatty);
  const answer = t.exports.handler.onServerEvent("/", "ping", encode([41]));
  assert.deepEqual(decode(answer), { pong: 41 });
  assert.equal(t.exports.handler.onServerEvent("/", "other", encode([])), undefined);
});

test("the socket's handshake, user and rooms read as Socket.IO's", () => {
  let seen;
  const t = new PluginTest(gateway({ look: (client) => void (seen = client) }));
  t.event(
    t.socket({
      id: "s1",
      namespace: "/chat",
      user: { sub: 42, username: "alice" },
      auth: { token: "t" },
      headers: { "user-agent": "x" },
      query: "EIO=4&room=a",
      rooms: ["r"],
    }),
    "look",
  );
  assert.equal(seen.namespace, "/chat");
  assert.deepEqual(seen.data.user, { sub: 42, username: "alice" });
  assert.deepEqual(seen.handshake, { auth: { token: "t" }, headers: { "user-agent": "x" }, query: { EIO: "4", room: "a" } });
  assert.deepEqual([...seen.rooms], ["s1", "r"]);
});

test("the store and presence reach the host", () => {
  const host = new MockHost();
  host.online.set("/", [{ userId: "1", username: "a", sockets: 2 }]);
  const t = new PluginTest(
    gateway({
      use(client) {
        client.store.set("k", "v");
        client.store.append("room", { n: 1 }, 2);
        client.store.append("room", { n: 2 }, 2);
        client.store.append("room", { n: 3 }, 2);
        return {
          k: client.store.get("k"),
          n: client.store.incr("n", 5),
          history: client.store.history("room", 10),
          online: client.presence.isOnline(1),
          users: client.presence.onlineUsers().length,
        };
      },
    }),
    host,
  );
  assert.deepEqual(t.event(t.socket(), "use").ack, { k: "v", n: 5, history: [{ n: 2 }, { n: 3 }], online: true, users: 1 });
});

test("a validator passes the value on, or every violation; a crash is one internal violation", () => {
  const t = new PluginTest(
    validator((client, event, data) => {
      if (event === "boom") throw new Error("bug");
      if (typeof data?.text !== "string") throw new ValidationFailed([{ property: "text", message: "text must be a string" }]);
      return { text: data.text.trim() };
    }),
  );
  assert.deepEqual(t.validate(t.socket(), "m", { text: " hi ", x: 1 }).result, { text: "hi" });
  assert.deepEqual(t.validate(t.socket(), "m", {}).violations, [{ property: "text", message: "text must be a string" }]);
  assert.deepEqual(t.validate(t.socket(), "boom", {}).violations, [{ property: "", message: "Internal error" }]);
});

test("class-validator's rules, with its messages, in property-name order", () => {
  const SendMessageDto = dto({ text: [IsString(), IsNotEmpty(), MaxLength(1000)], roomId: [IsString(), IsNotEmpty()] });
  const pipe = new PluginTest(validationPipe({ send_message: SendMessageDto }, { whitelist: true }));
  const s = pipe.socket();
  assert.deepEqual(
    pipe.validate(s, "send_message", {}).violations.map((v) => v.message),
    ["roomId must be a string", "roomId should not be empty", "text must be a string", "text should not be empty", "text must be shorter than or equal to 1000 characters"],
  );
  assert.deepEqual(pipe.validate(s, "send_message", { roomId: "r", text: "x".repeat(1001) }).violations.map((v) => v.message), [
    "text must be shorter than or equal to 1000 characters",
  ]);
  assert.deepEqual(pipe.validate(s, "send_message", { roomId: "r", text: "hi", extra: 1 }).result, { roomId: "r", text: "hi" }, "whitelist");
  assert.deepEqual(pipe.validate(s, "typing", 5).result, 5, "no DTO: unchanged");
  // UTF-16 code units, as JavaScript (and class-validator) count: 🙂 is two.
  assert.ok(dto({ t: [MaxLength(2)] }).validate({ t: "🙂" }));
  assert.throws(() => dto({ t: [MaxLength(1)] }).validate({ t: "🙂" }), ValidationFailed);
  const all = dto({
    b: [IsBoolean()],
    f: [IsNumber()],
    n: [IsInt()],
    s: [MinLength(2)],
    o: [IsOptional(), IsString()],
  });
  assert.throws(
    () => all.validate({ b: 1, f: "1", n: 1.5, s: "a", x: 1 }, { forbidNonWhitelisted: true }),
    (e) => {
      assert.deepEqual(e.violations.map((v) => v.message), [
        "b must be a boolean value",
        "f must be a number conforming to the specified constraints",
        "n must be an integer number",
        "s must be longer than or equal to 2 characters",
        "property x should not exist",
      ]);
      return true;
    },
  );
});

test("a guard allows, refuses with 'Forbidden resource' on false, or with its WsException", () => {
  const t = new PluginTest(
    guard((client, event, data) => {
      if (event === "admin") return client.user?.role === "admin";
      if (event === "ban") throw new WsException("Unauthorized: Invalid token");
      return true;
    }),
  );
  assert.equal(t.authorize(t.socket({ user: { role: "admin" } }), "admin").error, undefined);
  assert.deepEqual(t.authorize(t.socket(), "admin").error, { code: "WS_ERROR", message: "Forbidden resource", dataJson: undefined });
  assert.equal(t.authorize(t.socket(), "ban").error.message, "Unauthorized: Invalid token");
});

test("a filter shapes the client's error event, or sends nothing", () => {
  const t = new PluginTest(
    filter((error, client, event, data) => (error.code === "QUIET" ? undefined : { status: "error", message: error.message, event, data })),
  );
  assert.deepEqual(t.catch(t.socket(), "e", { a: 1 }, { code: "WS_ERROR", message: "m" }).result, {
    status: "error",
    message: "m",
    event: "e",
    data: { a: 1 },
  });
  assert.equal(t.catch(t.socket(), "e", null, { code: "QUIET", message: "m" }).result, undefined);
});

test("a controller answers its routes as NestJS does: 201 for POST, HttpException bodies, 404 otherwise", () => {
  const t = new PluginTest(
    controller({
      "POST /notify": (req, http) => {
        if (!req.json?.userId) throw new HttpException(400, "userId is required");
        http.of("/chat").to(`user:${req.json.userId}`).emit("notification", req.json);
        return { success: true };
      },
      "GET /raw": () => ({ status: 202, headers: { "x-a": "1" }, body: "plain" }),
      "GET /crash": () => {
        throw new Error("bug");
      },
    }),
  );
  const ok = t.http({ method: "POST", path: "/notify", body: { userId: 5 } });
  assert.equal(ok.status, 201);
  assert.equal(ok.text, '{"success":true}');
  assert.equal(ok.headers["content-type"], "application/json");
  assert.deepEqual(ok.emits.map((e) => [e.namespace, e.event, e.to]), [["/chat", "notification", { tag: "rooms", val: ["user:5"] }]]);
  const bad = t.http({ method: "POST", path: "/notify", body: {} });
  assert.equal(bad.status, 400);
  assert.deepEqual(JSON.parse(bad.text), { statusCode: 400, message: "userId is required", error: "Bad Request" });
  const raw = t.http({ method: "GET", path: "/raw" });
  assert.deepEqual([raw.status, raw.headers["x-a"], raw.text], [202, "1", "plain"]);
  assert.deepEqual(JSON.parse(t.http({ method: "GET", path: "/crash" }).text), { statusCode: 500, message: "Internal server error" });
  assert.equal(t.http({ method: "GET", path: "/nope" }).status, 404);
});
