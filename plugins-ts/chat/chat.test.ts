// The TypeScript chat plugin under Node, without wasm: the same cases as the Rust chat
// plugin's tests (plugins/chat/src/tests.rs), so both ports of the seed agree.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PluginTest } from "@portico/plugin-sdk/testing";
import chat from "./chat.js";

const alice = (t: PluginTest) => t.socket({ id: "a1", namespace: "/chat", user: { sub: 1, username: "alice" } });

test("message is a WsResponse to the sender, not an ack", () => {
  const t = new PluginTest(chat);
  const out = t.event(alice(t), "message", { text: "hi", other: 1 });
  assert.equal(out.ack, undefined);
  assert.deepEqual(
    out.emits.map((e) => [e.event, e.to, e.data]),
    [["message", { tag: "socket", val: "a1" }, { ok: true, received: "hi" }]],
  );
  // `payload.text` of null throws, as in the seed: an internal error.
  assert.equal(t.event(alice(t), "message", null).error?.code, "INTERNAL_ERROR");
});

test("join_room acks joined and the history, and tells the others in the room", () => {
  const t = new PluginTest(chat);
  const a = alice(t);
  t.event(a, "send_message", { text: "earlier", roomId: "general" });
  const out = t.event(a, "join_room", { roomId: "general" });
  assert.deepEqual(out.joins, [{ room: "general", socket: undefined }]);
  const ack = out.ack as { joined: string; messages: { text: string }[] };
  assert.equal(ack.joined, "general");
  assert.deepEqual(ack.messages.map((m) => m.text), ["earlier"]);
  assert.deepEqual(
    out.emits.map((e) => [e.event, e.to, e.exceptSender, e.data]),
    [["user_joined_room", { tag: "rooms", val: ["general"] }, true, { roomId: "general", userId: 1, username: "alice" }]],
  );
});

test("join_room keeps the last 50 messages, oldest first", () => {
  const t = new PluginTest(chat);
  const a = alice(t);
  for (let i = 0; i < 55; i++) t.event(a, "send_message", { text: `m${i}`, roomId: "r" });
  const { messages } = t.event(a, "join_room", { roomId: "r" }).ack as { messages: { text: string }[] };
  assert.equal(messages.length, 50);
  assert.equal(messages[0].text, "m5");
  assert.equal(messages[49].text, "m54");
});

test("leave_room acks left and tells the room", () => {
  const t = new PluginTest(chat);
  const out = t.event(alice(t), "leave_room", { roomId: "general" });
  assert.deepEqual(out.ack, { left: "general" });
  assert.deepEqual(out.leaves, [{ room: "general", socket: undefined }]);
  assert.deepEqual(out.emits.map((e) => [e.event, e.exceptSender]), [["user_left_room", true]]);
});

test("send_message stores and sends to the room, sender included, and acks its id", () => {
  const t = new PluginTest(chat);
  const first = t.event(alice(t), "send_message", { text: "hello", roomId: "general" });
  const second = t.event(alice(t), "send_message", { text: "again", roomId: "general" });
  assert.deepEqual(first.ack, { sent: true, messageId: 1 });
  assert.deepEqual(second.ack, { sent: true, messageId: 2 });
  const [sent] = first.emits;
  assert.equal(sent.event, "new_message");
  assert.deepEqual(sent.to, { tag: "rooms", val: ["general"] });
  assert.equal(sent.exceptSender, false);
  const message = sent.data as Record<string, unknown>;
  assert.deepEqual(Object.keys(message).sort(), ["id", "roomId", "text", "timestamp", "userId", "username"]);
  assert.match(String(message.timestamp), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
});

test("send_message without a room is stored nowhere and sent to nobody", () => {
  const t = new PluginTest(chat);
  const out = t.event(alice(t), "send_message", { text: "lost" });
  assert.deepEqual(out.ack, { sent: true, messageId: 1 });
  assert.deepEqual(out.emits, []);
  assert.equal(t.host.histories.size, 0);
});

test("typing is user_typing to the others, isTyping as sent, and no ack", () => {
  const t = new PluginTest(chat);
  const out = t.event(alice(t), "typing", { roomId: "r", isTyping: false });
  assert.equal(out.ack, undefined);
  assert.deepEqual(
    out.emits.map((e) => [e.event, e.exceptSender, e.data]),
    [["user_typing", true, { roomId: "r", userId: 1, username: "alice", isTyping: false }]],
  );
});

test("direct_message reaches user:<recipientId> with the sender from the identity", () => {
  const t = new PluginTest(chat);
  const out = t.event(alice(t), "direct_message", { recipientId: 2, text: "psst", senderId: 99 });
  assert.deepEqual(out.ack, { sent: true, messageId: 1 });
  const [dm] = out.emits;
  assert.deepEqual(dm.to, { tag: "rooms", val: ["user:2"] });
  const body = dm.data as Record<string, unknown>;
  assert.equal(body.senderId, 1);
  assert.equal(body.senderUsername, "alice");
  assert.equal(body.text, "psst");
});

test("without an identity the seed throws 'User not found' (typing just returns)", () => {
  const t = new PluginTest(chat);
  const anonymous = t.socket({ namespace: "/chat" });
  for (const event of ["join_room", "leave_room", "send_message", "direct_message"]) {
    const out = t.event(anonymous, event, { roomId: "r", text: "x", recipientId: 2 });
    assert.deepEqual(out.error, { code: "WS_ERROR", message: "User not found", dataJson: undefined }, event);
    assert.deepEqual(out.emits, [], event);
  }
  const typing = t.event(anonymous, "typing", { roomId: "r", isTyping: true });
  assert.equal(typing.error, undefined);
  assert.deepEqual(typing.emits, []);
});

test("a token without username leaves username out", () => {
  const t = new PluginTest(chat);
  const out = t.event(t.socket({ user: { sub: "7" } }), "typing", { roomId: "r", isTyping: true });
  assert.deepEqual(out.emits[0].data, { roomId: "r", userId: "7", isTyping: true });
});
