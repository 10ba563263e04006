// The seed's `/chat` gateway (../shared/seeds/000_958eea9236d4cc7d.txt), walked top to
// bottom with the real socket.io-client against deploy/chat.toml as `cargo xtask run`
// serves it: every handler, every emit (who receives it, and who must not), every ack
// and error shape compared on exact key sets, both transports, two tabs of one user.
//
// "Did not receive" is proven with a fence (lib/deploy.mjs): every node emits a marker to
// the receiving socket, and anything any node sent it before arrives first, on one node
// or on two (seed-cluster.test.mjs), where another node's emits come through Redis. Users get fresh numeric subs, so no test depends on another's order.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { once, sleep } from "./lib/server.mjs";
import { startDeployment, newUser, Clients, record, ackWithin, keys, fence, API_KEY } from "./lib/deploy.mjs";

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe(`seed /chat: ChatGateway of 000 on ${process.env.PORTICO_E2E_DEPLOY ?? "deploy/chat.toml"}`, () => {
  let server;
  const clients = new Clients();
  const chat = () => `${server.url}/chat`;
  /** A connected user on /chat (a fresh one unless `user` is given). */
  const join = (opts = {}) => clients.connect(chat(), { user: opts.user ?? newUser(), ...opts });
  /** Resolves once the gateway counts `sockets` sockets for `user` (operator API). */
  const untilSockets = async (user, sockets) => {
    const deadline = Date.now() + 5000;
    for (;;) {
      const res = await fetch(`${server.url}/api/v1/presence?namespace=/chat`, { headers: { authorization: `Bearer ${API_KEY}` } });
      const found = (await res.json()).users.find((u) => u.userId === String(user.sub));
      if ((found?.sockets ?? 0) === sockets) return;
      assert.ok(Date.now() < deadline, `${user.sub} never had ${sockets} sockets`);
      await sleep(20);
    }
  };
  /** An event the gateway answers (`leave_room` of a room nobody is in emits to nobody). */
  const answered = (socket) => socket.timeout(2000).emitWithAck("leave_room", { roomId: "barrier-nobody-is-in" });
  /** What `socket` sent is handled, and what any node sent it has arrived, once this resolves. */
  const barrier = (socket) => fence(server, socket, answered);

  before(async () => {
    server = await startDeployment();
  });
  after(async () => {
    clients.closeAll();
    await server.stop();
  });

  // ------------------------------------------------------------ connection

  it("handleConnection: no token or a bad token is refused before any socket exists", async () => {
    const anonymous = clients.open(chat());
    assert.equal((await once(anonymous, "connect_error")).message, "Unauthorized: No token provided");
    const forged = clients.open(chat(), { auth: { token: newUser().token.slice(0, -2) + "xx" } });
    assert.equal((await once(forged, "connect_error")).message, "Unauthorized: Invalid token");
  });

  it("user_online {userId, username} goes to every socket, the new one included, on each connection", async () => {
    const observer = await join();
    const seen = record(observer);
    const alice = newUser();
    const tab1 = clients.open(chat(), { auth: { token: alice.token } });
    const own = once(tab1, "user_online");
    const announced = await own;
    // The seed emits `{userId: payload.sub, username: payload.username}`: sub stays a number.
    assert.deepStrictEqual(announced, { userId: alice.sub, username: alice.username });
    const tab2 = await join({ user: alice });
    await barrier(observer);
    const aboutAlice = seen.events("user_online").filter((u) => u.userId === alice.sub);
    assert.deepStrictEqual(aboutAlice, [
      { userId: alice.sub, username: alice.username },
      { userId: alice.sub, username: alice.username },
    ], "one user_online per connection, as handleConnection emits it");

    // user_offline only when the user's last socket leaves, to those still connected.
    tab1.disconnect();
    await untilSockets(alice, 1);
    await barrier(observer);
    assert.deepStrictEqual(seen.events("user_offline").filter((u) => u.userId === alice.sub), []);
    const offline = once(observer, "user_offline");
    tab2.disconnect();
    assert.deepStrictEqual(await offline, { userId: alice.sub, username: alice.username });
  });

  // ------------------------------------------------------------ the basic gateway's message

  it("message returns a WsResponse: the sender receives a `message` event, never an ack", async () => {
    const sender = await join();
    const other = await join();
    const otherLog = record(other);
    const reply = once(sender, "message");
    const acked = ackWithin(sender, 500, "message", { text: "hello" });
    assert.deepStrictEqual(await reply, { ok: true, received: "hello" });
    assert.deepStrictEqual(await acked, { acked: false });
    // `received: payload.text` is undefined for a payload without text: left out.
    const bare = once(sender, "message");
    sender.emit("message", { other: 1 });
    assert.deepStrictEqual(await bare, { ok: true });
    await barrier(other);
    assert.deepStrictEqual(otherLog.events("message"), [], "only the sender");
  });

  // ------------------------------------------------------------ rooms, both transports

  for (const transport of ["websocket", "polling"]) {
    it(`join_room, send_message, leave_room over ${transport}: acks, emits and who gets them`, async () => {
      const room = `general-${transport}`;
      const alice = await join({ transports: [transport] });
      const bob = await join({ transports: [transport] });
      const outsider = await join({ transports: [transport] });
      assert.equal(alice.io.engine.transport.name, transport);
      const aliceLog = record(alice);
      const outsiderLog = record(outsider);

      const first = await alice.timeout(2000).emitWithAck("join_room", { roomId: room });
      assert.deepStrictEqual(first, { joined: room, messages: [] });

      const joinedNote = once(alice, "user_joined_room");
      const second = await bob.timeout(2000).emitWithAck("join_room", { roomId: room, extra: "stripped" });
      assert.deepStrictEqual(second, { joined: room, messages: [] });
      assert.deepStrictEqual(await joinedNote, { roomId: room, userId: bob.user.sub, username: bob.user.username });

      const bobLog = record(bob);
      const sent = await alice.timeout(2000).emitWithAck("send_message", {
        roomId: room,
        text: "hello",
        userId: "forged",
        extra: true,
      });
      assert.deepStrictEqual(keys(sent), ["messageId", "sent"]);
      assert.equal(sent.sent, true);
      assert.equal(typeof sent.messageId, "number");
      await barrier(bob);
      await barrier(alice);
      const [toBob] = bobLog.events("new_message");
      assert.deepStrictEqual(keys(toBob), ["id", "roomId", "text", "timestamp", "userId", "username"]);
      assert.deepStrictEqual(
        { ...toBob, timestamp: "T" },
        { id: sent.messageId, text: "hello", roomId: room, userId: alice.user.sub, username: alice.user.username, timestamp: "T" },
        "user fields come from the verified token; unknown properties are stripped",
      );
      assert.match(toBob.timestamp, ISO);
      assert.deepStrictEqual(aliceLog.events("new_message"), [toBob], "server.to(room) includes the sender");
      assert.deepStrictEqual(aliceLog.events("user_joined_room").length, 1, "the joiner is not told of itself");

      const again = await bob.timeout(2000).emitWithAck("send_message", { roomId: room, text: "again" });
      assert.ok(again.messageId > sent.messageId, "ids increase");

      const leftNote = once(alice, "user_left_room");
      const left = await bob.timeout(2000).emitWithAck("leave_room", { roomId: room });
      assert.deepStrictEqual(left, { left: room });
      assert.deepStrictEqual(await leftNote, { roomId: room, userId: bob.user.sub, username: bob.user.username });
      bobLog.clear();
      await alice.timeout(2000).emitWithAck("send_message", { roomId: room, text: "after bob left" });
      await barrier(bob);
      assert.deepStrictEqual(bobLog.events("new_message"), [], "a member who left gets nothing");
      assert.deepStrictEqual(bobLog.events("user_left_room"), [], "the leaver is not told of itself");

      await barrier(outsider);
      for (const event of ["new_message", "user_joined_room", "user_left_room"]) {
        assert.deepStrictEqual(outsiderLog.events(event), [], `a non-member gets no ${event}`);
      }

      // The history a newcomer receives was stored after the whitelist.
      const carol = await join({ transports: [transport] });
      const history = await carol.timeout(2000).emitWithAck("join_room", { roomId: room });
      assert.deepStrictEqual(history.messages.map((m) => m.text), ["hello", "again", "after bob left"]);
      assert.deepStrictEqual(history.messages[0], toBob);
    });
  }

  it("join_room returns the last 50 messages, oldest first", async () => {
    const writer = await join();
    const room = "history-55";
    for (let i = 0; i < 55; i++) {
      await writer.timeout(2000).emitWithAck("send_message", { roomId: room, text: `m${i}` });
    }
    const reader = await join();
    const { messages } = await reader.timeout(2000).emitWithAck("join_room", { roomId: room });
    assert.equal(messages.length, 50);
    assert.deepStrictEqual([messages[0].text, messages[49].text], ["m5", "m54"]);
  });

  it("send_message without a roomId is acked and reaches nobody (server.to(undefined))", async () => {
    const alice = await join();
    const bob = await join();
    const bobLog = record(bob);
    const aliceLog = record(alice);
    const sent = await alice.timeout(2000).emitWithAck("send_message", { text: "into the void" });
    assert.deepStrictEqual(keys(sent), ["messageId", "sent"]);
    await barrier(bob);
    await barrier(alice);
    assert.deepStrictEqual([...bobLog.events("new_message"), ...aliceLog.events("new_message")], []);
  });

  // ------------------------------------------------------------ validation and errors

  it("a DTO violation is the error event {message, code: VALIDATION_ERROR}, no ack, nothing sent or stored", async () => {
    const room = "validated";
    const alice = await join();
    const bob = await join();
    await alice.timeout(2000).emitWithAck("join_room", { roomId: room });
    await bob.timeout(2000).emitWithAck("join_room", { roomId: room });
    const bobLog = record(bob);
    const cases = [
      [{ roomId: room, text: "x".repeat(1001) }, "text must be shorter than or equal to 1000 characters"],
      [{ roomId: room, text: "" }, "text should not be empty"],
      [{ roomId: room }, "text must be a string, text should not be empty, text must be shorter than or equal to 1000 characters"],
      [{ roomId: 7, text: "hi" }, "roomId must be a string"],
    ];
    for (const [payload, message] of cases) {
      const error = once(alice, "error");
      const result = await ackWithin(alice, 400, "send_message", payload);
      assert.deepStrictEqual(await error, { message, code: "VALIDATION_ERROR" }, JSON.stringify(payload));
      assert.deepStrictEqual(result, { acked: false }, "an error answers no ack");
    }
    const joinError = once(alice, "error");
    assert.deepStrictEqual(await ackWithin(alice, 400, "join_room", {}), { acked: false });
    assert.deepStrictEqual(await joinError, { message: "roomId must be a string, roomId should not be empty", code: "VALIDATION_ERROR" });
    await barrier(bob);
    assert.deepStrictEqual(bobLog.events("new_message"), [], "nothing was broadcast");
    const newcomer = await join();
    const { messages } = await newcomer.timeout(2000).emitWithAck("join_room", { roomId: room });
    assert.deepStrictEqual(messages, [], "nothing was stored");
  });

  it("an unexpected failure is {message: 'Internal error', code: 'INTERNAL_ERROR'} and the socket goes on", async () => {
    const alice = await join();
    const error = once(alice, "error");
    alice.emit("message", null); // `payload.text` of null throws in the seed's handler
    assert.deepStrictEqual(await error, { message: "Internal error", code: "INTERNAL_ERROR" });
    assert.deepStrictEqual(await answered(alice), { left: "barrier-nobody-is-in" });
  });

  it("private rooms (canUserJoinRoom): an intruder gets WS_ERROR, no ack, and is not in the room", async () => {
    const a = await join();
    const b = await join();
    const room = `private-${a.user.sub}-${b.user.sub}`;
    assert.deepStrictEqual(await a.timeout(2000).emitWithAck("join_room", { roomId: room }), { joined: room, messages: [] });
    const aLog = record(a);
    const intruder = await join();
    const intruderLog = record(intruder);
    const error = once(intruder, "error");
    assert.deepStrictEqual(await ackWithin(intruder, 400, "join_room", { roomId: room }), { acked: false });
    assert.deepStrictEqual(await error, { message: "Access denied to this room", code: "WS_ERROR" });
    // Ids match exactly: a sub that is a prefix of a member's is not a member.
    const prefix = `private-${String(a.user.sub).slice(0, 2)}-${b.user.sub}`;
    const prefixError = once(intruder, "error");
    intruder.emit("join_room", { roomId: prefix });
    assert.equal((await prefixError).message, "Access denied to this room");
    assert.deepStrictEqual(await b.timeout(2000).emitWithAck("join_room", { roomId: room }), { joined: room, messages: [] });
    await a.timeout(2000).emitWithAck("send_message", { roomId: room, text: "members only" });
    await barrier(intruder);
    await barrier(a);
    assert.deepStrictEqual(intruderLog.events("new_message"), [], "the intruder is outside the room");
    assert.deepStrictEqual(
      aLog.events("user_joined_room").map((n) => n.userId),
      [b.user.sub],
      "the refused join told nobody",
    );
  });

  it("WsJwtGuard: once the token expires, every event is refused with 'Unauthorized: Invalid token'", async () => {
    // Connected within the auth leeway; the guard checks exp at each event, as
    // jwtService.verifyAsync does, with no leeway.
    const user = newUser({ ttl: 2 });
    const s = await join({ user });
    assert.deepStrictEqual(await answered(s), { left: "barrier-nobody-is-in" }, "valid now");
    await sleep(Math.max(0, user.claims.exp * 1000 - Date.now()) + 50);
    const error = once(s, "error");
    assert.deepStrictEqual(await ackWithin(s, 400, "join_room", { roomId: "late" }), { acked: false });
    assert.deepStrictEqual(await error, { message: "Unauthorized: Invalid token", code: "WS_ERROR" });
  });

  // ------------------------------------------------------------ typing, direct messages

  it("typing is user_typing {roomId, userId, username, isTyping} to the others only, and acks nothing", async () => {
    const room = "typing";
    const a = await join();
    const b = await join();
    await a.timeout(2000).emitWithAck("join_room", { roomId: room });
    await b.timeout(2000).emitWithAck("join_room", { roomId: room });
    const aLog = record(a);
    const typing = once(b, "user_typing");
    assert.deepStrictEqual(await ackWithin(a, 400, "typing", { roomId: room, isTyping: true }), { acked: false });
    assert.deepStrictEqual(await typing, { roomId: room, userId: a.user.sub, username: a.user.username, isTyping: true });
    const stopped = once(b, "user_typing");
    a.emit("typing", { roomId: room, isTyping: false });
    assert.deepStrictEqual(await stopped, { roomId: room, userId: a.user.sub, username: a.user.username, isTyping: false });
    await barrier(a);
    assert.deepStrictEqual(aLog.events("user_typing"), [], "client.to(room) leaves the sender out");
    assert.deepStrictEqual(aLog.events("typing"), [], "the seed's event is user_typing");
  });

  it("direct_message reaches every tab of user:<recipientId> (number or string id), and no one else", async () => {
    const sender = await join();
    const bob = newUser();
    const tab1 = await join({ user: bob });
    const tab2 = await join({ user: bob });
    const other = await join();
    const logs = [tab1, tab2, other, sender].map(record);
    const byNumber = await sender.timeout(2000).emitWithAck("direct_message", { recipientId: bob.sub, text: "hi", senderId: "forged" });
    assert.deepStrictEqual(keys(byNumber), ["messageId", "sent"]);
    const byString = await sender.timeout(2000).emitWithAck("direct_message", { recipientId: String(bob.sub), text: "again" });
    for (const s of [tab1, tab2, other, sender]) await barrier(s);
    for (const log of logs.slice(0, 2)) {
      const got = log.events("direct_message");
      assert.deepStrictEqual(got.map((m) => [m.id, m.text]), [[byNumber.messageId, "hi"], [byString.messageId, "again"]]);
      assert.deepStrictEqual(keys(got[0]), ["id", "senderId", "senderUsername", "text", "timestamp"]);
      assert.deepStrictEqual([got[0].senderId, got[0].senderUsername], [sender.user.sub, sender.user.username]);
      assert.match(got[0].timestamp, ISO);
    }
    assert.deepStrictEqual([...logs[2].events("direct_message"), ...logs[3].events("direct_message")], []);
  });
});
