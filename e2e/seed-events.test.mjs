// The seed's second document (../shared/seeds/003_b78c923f829bd532.txt), walked top to
// bottom against deploy/chat.toml with the real socket.io-client: the EventsGateway on
// `/events` (message, events, privateMessage behind WsJwtGuard, createMessage behind
// WsValidationPipe, the WebSocketExceptionFilter's `{id, rid, ...details}`), the room
// gateway on `/` in front of the echo plugin, and the seed's own `describe('EventsGateway')`
// test ported to node:test.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { once } from "./lib/server.mjs";
import { startDeployment, newUser, Clients, record, ackWithin, fence } from "./lib/deploy.mjs";

describe("seed /events: EventsGateway of 003 on deploy/chat.toml", () => {
  let server;
  const clients = new Clients();
  const events = (opts = {}) => clients.connect(`${server.url}/events`, opts);
  /** What `socket` sent is handled, and what any node sent it has arrived, once this resolves. */
  const barrier = (socket) => fence(server, socket, (s) => s.timeout(2000).emitWithAck("message", "barrier"));

  before(async () => {
    server = await startDeployment();
  });
  after(async () => {
    clients.closeAll();
    await server.stop();
  });

  for (const transport of ["websocket", "polling"]) {
    it(`message acks 'Message received' and events acks its payload, over ${transport}`, async () => {
      const s = await events({ transports: [transport] });
      const log = record(s);
      assert.equal(await s.timeout(2000).emitWithAck("message", "Hello Server!"), "Message received");
      assert.equal(await s.timeout(2000).emitWithAck("message", { any: "thing" }), "Message received");
      for (const payload of [{ a: [1, { b: null }] }, "text", 42, true, [1, 2]]) {
        assert.deepStrictEqual(await s.timeout(2000).emitWithAck("events", payload), payload);
      }
      // A nil result is not acked (NestJS filters `isNil` responses out).
      assert.deepStrictEqual(await ackWithin(s, 400, "events", null), { acked: false });
      assert.equal(s.io.engine.transport.name, transport);
      assert.deepStrictEqual(log.log, [], "the gateway emits nothing back");
    });
  }

  it("privateMessage behind WsJwtGuard acks {user, data} with the token's payload", async () => {
    const user = newUser();
    const s = await events({ auth: { token: user.token } });
    const answer = await s.timeout(2000).emitWithAck("privateMessage", { text: "psst" });
    assert.deepStrictEqual(answer, { user: user.claims, data: { text: "psst" } });
  });

  it("privateMessage without a token: the guard returns false, the filter sends {id, rid, message}", async () => {
    const s = await events();
    const error = once(s, "error");
    assert.deepStrictEqual(await ackWithin(s, 400, "privateMessage", { rid: 17, text: "psst" }), { acked: false });
    assert.deepStrictEqual(await error, { id: s.id, rid: 17, message: "Forbidden resource" });
    // `rid` is `host.switchToWs().getData().rid`: absent from a payload, absent here.
    const noRid = once(s, "error");
    s.emit("privateMessage", "no rid in a string");
    assert.deepStrictEqual(await noRid, { id: s.id, message: "Forbidden resource" });
  });

  it("a bad token is refused at connect: auth is optional on /events, but a token given must be good", async () => {
    const bad = clients.open(`${server.url}/events`, { auth: { token: "not.a.jwt" } });
    assert.equal((await once(bad, "connect_error")).message, "Unauthorized: Invalid token");
  });

  it("createMessage behind WsValidationPipe: the seed's two messages, with id and rid", async () => {
    const s = await events();
    const cases = [
      [undefined, { id: s.id, message: "Validation failed: No data provided" }],
      [null, { id: s.id, message: "Validation failed: No data provided" }],
      ["", { id: s.id, message: "Validation failed: No data provided" }],
      [0, { id: s.id, message: "Validation failed: No data provided" }],
      ["text", { id: s.id, message: "Validation failed: Data must be an object" }],
      [5, { id: s.id, message: "Validation failed: Data must be an object" }],
    ];
    for (const [payload, expected] of cases) {
      const error = once(s, "error");
      const args = payload === undefined ? [] : [payload];
      assert.deepStrictEqual(await ackWithin(s, 400, "createMessage", ...args), { acked: false });
      assert.deepStrictEqual(await error, expected, JSON.stringify(payload));
    }
    const created = await s.timeout(2000).emitWithAck("createMessage", { rid: "r1", text: "hi" });
    assert.deepStrictEqual(Object.keys(created).sort(), ["id", "rid", "text"]);
    assert.deepStrictEqual({ ...created, id: 0 }, { id: 0, rid: "r1", text: "hi" });
    assert.equal(typeof created.id, "number");
    const next = await s.timeout(2000).emitWithAck("createMessage", { text: "again" });
    assert.ok(next.id > created.id, "ids increase");
  });

  it("an error on one socket reaches only that socket; others are unaffected", async () => {
    const a = await events();
    const b = await events();
    const bLog = record(b);
    const error = once(a, "error");
    a.emit("createMessage", null);
    assert.equal((await error).id, a.id);
    assert.equal(await b.timeout(2000).emitWithAck("message", "still here"), "Message received");
    await barrier(b);
    assert.deepStrictEqual(bLog.log, []);
  });
});

describe("seed `/`: the room gateway of 003 in front of the echo plugin", () => {
  let server;
  const clients = new Clients();
  const root = (opts = {}) => clients.connect(server.url, opts);
  /** What `socket` sent is handled, and what any node sent it has arrived, once this resolves. */
  const barrier = (socket) => fence(server, socket, (s) => s.timeout(2000).emitWithAck("barrier", 1));

  before(async () => {
    server = await startDeployment();
  });
  after(async () => {
    clients.closeAll();
    await server.stop();
  });

  for (const transport of ["websocket", "polling"]) {
    it(`joinRoom: joinedRoom to the sender, userJoined {userId, room} to the room, over ${transport}`, async () => {
      const room = `room-${transport}`;
      const a = await root({ transports: [transport] });
      const b = await root({ transports: [transport] });
      const outsider = await root({ transports: [transport] });
      const [aLog, bLog, outLog] = [a, b, outsider].map(record);
      a.emit("joinRoom", room);
      await barrier(a);
      assert.deepStrictEqual(aLog.log, [
        ["joinedRoom", room],
        ["userJoined", { userId: a.id, room }],
      ], "server.to(room) includes the one who just joined");
      assert.deepStrictEqual(await ackWithin(b, 400, "joinRoom", room), { acked: false }, "no return, no ack");
      await barrier(a);
      assert.deepStrictEqual(aLog.events("userJoined").at(-1), { userId: b.id, room });
      assert.deepStrictEqual(bLog.events("joinedRoom"), [room]);

      aLog.clear();
      bLog.clear();
      a.emit("messageToRoom", { room, message: "Hello Room!" });
      await barrier(a);
      await barrier(b);
      assert.deepStrictEqual(aLog.log, [["message", { userId: a.id, message: "Hello Room!" }]]);
      assert.deepStrictEqual(bLog.log, [["message", { userId: a.id, message: "Hello Room!" }]]);

      aLog.clear();
      bLog.clear();
      b.emit("leaveRoom", room);
      await barrier(b);
      await barrier(a);
      assert.deepStrictEqual(aLog.log, [["userLeft", { userId: b.id, room }]]);
      assert.deepStrictEqual(bLog.log, [], "the leaver has left before userLeft is sent");
      a.emit("messageToRoom", { room, message: "after" });
      await barrier(a);
      await barrier(b);
      assert.deepStrictEqual(bLog.log, [], "a member who left gets nothing");

      await barrier(outsider);
      assert.deepStrictEqual(outLog.log, [], "a non-member gets nothing");
    });
  }

  it("/notifications is the seed's empty NotificationsGateway: it connects and handles nothing", async () => {
    const s = await clients.connect(`${server.url}/notifications`);
    const log = record(s);
    assert.deepStrictEqual(await ackWithin(s, 300, "anything", 1), { acked: false });
    assert.deepStrictEqual(log.log, []);
    assert.equal(s.connected, true);
  });

  it("every other event reaches the echo plugin, which acks it with its payload", async () => {
    const s = await root();
    assert.deepStrictEqual(await s.timeout(2000).emitWithAck("anything", { a: 1 }), { a: 1 });
    assert.equal(await s.timeout(2000).emitWithAck("message", "Hello Server!"), "Hello Server!");
  });

  // The seed's own gateway test, `describe('EventsGateway')`, ported to node:test. It
  // connects `io('http://localhost:3001', { transports: ['websocket'] })`, the `/`
  // namespace, and waits for events the gateway would have to emit. Where NestJS itself
  // would not behave as that test expects, the port says so:
  describe("the seed's EventsGateway test, ported", () => {
    let socket;
    before(async () => {
      socket = await root({ transports: ["websocket"] });
    });

    it("should emit message event", async () => {
      // As written, the test emits `message` and waits for a `message` event whose data
      // is 'Message received'. NestJS answers a handler's return value as the ack, not
      // as an event, and `handleMessage` lives in EventsGateway on `/events`: against
      // NestJS the `message` event never comes and the test times out. It is ported
      // with the return value read where NestJS puts it, the ack, on `/events`.
      const events = await clients.connect(`${server.url}/events`, { transports: ["websocket"] });
      const data = await events.timeout(2000).emitWithAck("message", "Hello");
      assert.equal(data, "Message received");
    });

    it("should join room", async () => {
      // As written: emit `joinRoom` 'room1', expect `joinedRoom` 'room1'. `joinRoom` is the
      // room gateway's, on `/`, exactly as the test connects, so it runs unchanged.
      const joined = once(socket, "joinedRoom");
      socket.emit("joinRoom", "room1");
      assert.equal(await joined, "room1");
    });
  });
});
