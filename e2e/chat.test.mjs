// The seed's chat gateway end to end: deploy/chat.toml, the chat, dto-validator and
// error-filter plugins (built by `cargo xtask build` into target/plugins/), and the
// real socket.io-client.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, mkdtempSync, cpSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { io } from "socket.io-client";
import { startServer, once } from "./lib/server.mjs";
import { sign, now } from "./lib/jwt.mjs";

const SECRET = "chat-e2e-secret";
let users = 0;
/** A token for a new user; returns [token, sub, name]. */
const identity = () => {
  users += 1;
  const sub = String(users);
  const name = `user${users}`;
  return [sign({ sub, username: name, exp: now() + 3600 }, SECRET), sub, name];
};

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const builtPlugins = process.env.PORTICO_PLUGINS_DIR ?? join(root, "target/plugins");

describe("chat gateway (deploy/chat.toml)", () => {
  let server;
  const sockets = [];
  /** Connects a new user; the socket gets `.sub` and `.name`. */
  const connect = async (opts = {}) => {
    const [token, sub, name] = identity();
    const s = io(`${server.url}/chat`, { forceNew: true, reconnection: false, auth: { token }, ...opts });
    sockets.push(s);
    await once(s, "connect");
    return Object.assign(s, { sub, name });
  };

  before(async () => {
    const plugins = mkdtempSync(join(tmpdir(), "portico-chat-"));
    cpSync(builtPlugins, plugins, { recursive: true });
    server = await startServer(readFileSync(join(root, "deploy/chat.toml"), "utf8"), {
      env: { PORTICO_PLUGINS_DIR: plugins, JWT_SECRET: SECRET },
    });
  });
  after(async () => {
    sockets.forEach((s) => s.disconnect());
    await server.stop();
  });

  it("join_room, send_message as new_message with the seed's shape, history oldest first", async () => {
    const alice = await connect({ transports: ["websocket"] });
    const bob = await connect();
    assert.deepEqual(await alice.emitWithAck("join_room", { roomId: "general" }), { roomId: "general", messages: [] });
    const joined = once(alice, "user_joined_room");
    await bob.emitWithAck("join_room", { roomId: "general" });
    assert.deepEqual(await joined, { roomId: "general", userId: bob.sub, username: bob.name });

    const received = once(bob, "new_message");
    const ack = await alice.emitWithAck("send_message", { roomId: "general", text: "hello", userId: "forged" });
    assert.equal(ack.sent, true);
    assert.equal(typeof ack.messageId, "number");
    const message = await received;
    assert.deepEqual(Object.keys(message).sort(), ["id", "roomId", "text", "timestamp", "userId", "username"]);
    assert.equal(message.id, ack.messageId);
    assert.equal(message.text, "hello");
    assert.equal(message.userId, alice.sub, "user fields come from the verified token, not the payload");
    assert.equal(message.username, alice.name);
    assert.match(message.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    const second = await alice.emitWithAck("send_message", { roomId: "general", text: "again" });
    assert.ok(second.messageId > ack.messageId, "ids increase");
    const carol = await connect();
    const history = await carol.emitWithAck("join_room", { roomId: "general" });
    assert.deepEqual(history.messages.map((m) => m.text).slice(-2), ["hello", "again"]);
  });

  it("validation errors name the field in class-validator's words, and nothing is sent", async () => {
    const alice = await connect();
    await alice.emitWithAck("join_room", { roomId: "v" });
    const error = once(alice, "error");
    alice.emit("send_message", { roomId: "v", text: "x".repeat(1001) });
    const body = await error;
    assert.equal(body.code, "VALIDATION_ERROR");
    assert.equal(body.message, "text must be shorter than or equal to 1000 characters");
    const emptyError = once(alice, "error");
    await assert.rejects(alice.timeout(300).emitWithAck("send_message", { roomId: "v", text: "" }));
    assert.equal((await emptyError).message, "text should not be empty");
  });

  it("private rooms admit only their members: WS_ERROR through the error filter", async () => {
    const eve = await connect();
    const error = once(eve, "error");
    await assert.rejects(eve.timeout(300).emitWithAck("join_room", { roomId: "private-1-2" }));
    assert.deepEqual(await error, { message: "Access denied to this room", code: "WS_ERROR" });
  });

  it("typing reaches the others only; direct_message goes to user:<id>", async () => {
    const a = await connect();
    const b = await connect();
    await a.emitWithAck("join_room", { roomId: "t" });
    await b.emitWithAck("join_room", { roomId: "t" });
    const typing = once(b, "typing");
    let selfTyping = false;
    a.on("typing", () => (selfTyping = true));
    a.emit("typing", { roomId: "t", isTyping: true });
    assert.deepEqual(await typing, { roomId: "t", userId: a.sub, username: a.name, isTyping: true });
    await a.emitWithAck("send_message", { roomId: "t", text: "marker" });
    assert.equal(selfTyping, false);
    const dm = once(b, "direct_message");
    const sent = await a.emitWithAck("direct_message", { recipientId: b.sub, text: "hi", senderId: "forged" });
    assert.equal(sent.sent, true);
    const got = await dm;
    assert.deepEqual(
      { id: got.id, text: got.text, senderId: got.senderId, senderUsername: got.senderUsername },
      { id: sent.messageId, text: "hi", senderId: a.sub, senderUsername: a.name },
    );
  });

  it("presence: user_online to others, get_online_users lists a user once across two tabs", async () => {
    const observer = await connect();
    const [token, sub, name] = identity();
    const online = once(observer, "user_online");
    const tab1 = io(`${server.url}/chat`, { forceNew: true, reconnection: false, auth: { token } });
    const tab2 = io(`${server.url}/chat`, { forceNew: true, reconnection: false, auth: { token } });
    sockets.push(tab1, tab2);
    const toSelf = [];
    tab1.on("user_online", (u) => toSelf.push(u));
    tab2.on("user_online", (u) => toSelf.push(u));
    assert.deepEqual(await online, { userId: sub, username: name });
    await Promise.all([tab1.connected || once(tab1, "connect"), tab2.connected || once(tab2, "connect")]);
    const { users } = await observer.emitWithAck("get_online_users", null);
    assert.deepEqual(users.find((u) => u.userId === sub), { userId: sub, username: name, sockets: 2 });
    assert.ok(users.some((u) => u.userId === observer.sub));
    // Each tab's acks are queued after anything its own connect emitted.
    await Promise.all([tab1.emitWithAck("get_online_users", null), tab2.emitWithAck("get_online_users", null)]);
    assert.deepEqual(toSelf, [], "a user's own sockets are not told that the user came online");
  });

  it("refuses /chat without a token; private rooms admit their members", async () => {
    const anonymous = io(`${server.url}/chat`, { forceNew: true, reconnection: false });
    sockets.push(anonymous);
    assert.equal((await once(anonymous, "connect_error")).message, "Unauthorized: No token provided");
    const a = await connect();
    const b = await connect();
    const room = `private-${a.sub}-${b.sub}`;
    assert.deepEqual((await a.emitWithAck("join_room", { roomId: room })).roomId, room);
    assert.deepEqual((await b.emitWithAck("join_room", { roomId: room })).roomId, room);
  });
});
