// Several Portico nodes on one real redis-server: exactly-once, in-order delivery across
// nodes, and what happens when Redis is unreachable, killed, or sends garbage.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import { Emitter } from "@socket.io/redis-emitter";
import { startServer, once, sleep } from "./lib/server.mjs";
import { startRedis, waitReady, eventually } from "./lib/cluster.mjs";
import { Clients, record } from "./lib/deploy.mjs";
import { metric as metricAt } from "./lib/metrics.mjs";
import { sign, now } from "./lib/jwt.mjs";

const clusterToml = (url, wire = "redis") => `
[cluster]
adapter = "${wire}"
redis_url = "${url}"
[namespaces."/"]
handler = "echo"
`;

/** `GET /readyz` as `{status, body}`. */
async function readyz(node) {
  const res = await fetch(`${node.url}/readyz`);
  return { status: res.status, body: await res.json() };
}

async function metric(node, name) {
  return (await metricAt(node.url, name)) ?? 0;
}

/** Garbage for each wire, each piece one malformed message (the last one oversized). */
const garbage = {
  redis: async (raw) => {
    await raw.publish("socket.io#/#", Buffer.from([0xc1, 0x00]));
    await raw.publish("socket.io#/#", Buffer.from([0x93, 0xa1, 0x78]));
    await raw.publish("socket.io-request#/#", "{not json");
    await raw.publish("socket.io-request#/#", JSON.stringify({ type: 99 }));
    await raw.publish("socket.io-response#/#", JSON.stringify({ sockets: [] }));
    await raw.publish("socket.io#/#", Buffer.alloc(5_000_000, 0x90));
  },
  "redis-streams": async (raw) => {
    const xadd = (...fields) => raw.sendCommand(["XADD", "socket.io", "*", ...fields]);
    await xadd("uid", "x", "nsp", "/", "type", "3", "data", "{not json");
    await xadd("uid", "x", "nsp", "/", "type", "three", "data", "{}");
    await xadd("uid", "x", "nsp", "/", "type", "3", "data", "!!not base64!!");
    await xadd("uid", "x", "type", "3");
    await raw.publish("socket.io#/#", Buffer.from([0xc1, 0x00]));
    await xadd("uid", "x", "nsp", "/", "type", "3", "data", "{" + " ".repeat(5_000_000) + "}");
  },
};

for (const wire of ["redis", "redis-streams"]) describe(`two Portico nodes on one Redis (adapter = "${wire}")`, () => {
  let redis, a, b;
  const clients = new Clients();

  before(async () => {
    redis = await startRedis();
    [a, b] = await Promise.all([startServer(clusterToml(redis.url, wire)), startServer(clusterToml(redis.url, wire))]);
    await Promise.all([waitReady(a.url), waitReady(b.url)]);
  });

  after(async () => {
    clients.closeAll();
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.stop();
  });

  test("200 clients split over the nodes each get every broadcast exactly once, in order per sender", async () => {
    const members = [];
    for (let i = 0; i < 200; i++) {
      const s = await clients.connect((i % 2 ? b : a).url, { transports: ["websocket"] });
      members.push(s);
    }
    await Promise.all(members.map((s) => s.emitWithAck("join", "crowd")));
    const received = members.map(() => []);
    members.forEach((s, i) => s.on("tick", (sender, n) => received[i].push(`${sender}:${n}`)));
    const senders = [members[0], members[1], members[2]]; // on a, b, a
    const PER_SENDER = 20;
    const all = members.map((s) => {
      let left = senders.length * PER_SENDER;
      return new Promise((done) => s.on("tick", () => --left === 0 && done()));
    });
    await Promise.all(
      senders.map(async (s, k) => {
        for (let n = 0; n < PER_SENDER; n++) await s.emitWithAck("relay", { event: "tick", to: "crowd", args: [k, n] });
      }),
    );
    await Promise.race([Promise.all(all), sleep(15_000).then(() => assert.fail("not every broadcast arrived"))]);
    // Anything extra would have come right behind: give it a moment to show.
    await sleep(200);
    for (const [i, got] of received.entries()) {
      assert.equal(got.length, senders.length * PER_SENDER, `client ${i}: exactly once`);
      for (let k = 0; k < senders.length; k++) {
        const mine = got.filter((e) => e.startsWith(`${k}:`));
        assert.deepEqual(mine, [...Array(PER_SENDER).keys()].map((n) => `${k}:${n}`), `client ${i}: sender ${k} in order`);
      }
      // One stream, one order: every client, on either node, sees the senders
      // interleaved the same way (pub/sub promises only each sender's order).
      if (wire === "redis-streams") assert.deepEqual(got, received[0], `client ${i}: the stream's order`);
    }
    members.forEach((s) => s.disconnect());
  });

  test("a malformed or oversized message from Redis is dropped and counted; the nodes go on", async () => {
    const before = await metric(a, "portico_cluster_malformed_total");
    const raw = createClient({ url: redis.url });
    await raw.connect();
    try {
      await garbage[wire](raw);
      // Then a good message: it must still arrive.
      const pa = await clients.connect(a.url);
      const pb = await clients.connect(b.url);
      const got = [once(pa, "fine"), once(pb, "fine")];
      if (wire === "redis") new Emitter(raw).emit("fine", 1);
      else await pb.emitWithAck("relay", { event: "fine", args: [1] });
      await Promise.all(got);
    } finally {
      await raw.quit();
    }
    assert.equal((await metric(a, "portico_cluster_malformed_total")) - before, 6);
    assert.ok(a.alive() && b.alive());
  });

  test("Redis killed mid-run: local delivery goes on, /readyz says why, cross-node delivery returns after restart", async (t) => {
    const a1 = await clients.connect(a.url);
    const a2 = await clients.connect(a.url);
    const b1 = await clients.connect(b.url);
    await Promise.all([a1, a2, b1].map((s) => s.emitWithAck("join", "ops")));
    await redis.kill();
    // Local delivery on node a, with Redis gone.
    const local = once(a2, "while-down");
    await a1.emitWithAck("relay", { event: "while-down", to: "ops" });
    await local;
    const down = await eventually(async () => {
      const r = await readyz(a);
      return r.status === 503 && r;
    }, 5000, "/readyz to report the outage");
    assert.equal(down.body.ready, false);
    assert.match(down.body.reason, /Redis/);
    // What node a publishes while Redis is away is dropped and counted, not buffered.
    const dropped = await metric(a, "portico_cluster_dropped_total");
    for (let i = 0; i < 50; i++) await a1.emitWithAck("relay", { event: "lost", to: "ops" });
    await eventually(async () => (await metric(a, "portico_cluster_dropped_total")) >= dropped + 50, 10_000, "drops counted");
    assert.ok(a.alive() && b.alive());
    // Back: both nodes ready again within seconds, and a broadcast crosses.
    const restarted = Date.now();
    await redis.restart();
    await Promise.all([waitReady(a.url, 10_000), waitReady(b.url, 10_000)]);
    const backIn = Date.now() - restarted;
    t.diagnostic(`both nodes ready ${backIn} ms after Redis restarted`);
    assert.ok(backIn < 5000, `ready again after ${backIn} ms`);
    await eventually(async () => {
      const got = once(b1, "back", 500).then(() => true, () => false);
      await a1.emitWithAck("relay", { event: "back", to: "ops" });
      return got;
    }, 5000, "cross-node delivery after the restart");
  });
});

for (const wire of ["redis", "redis-streams"]) describe(`a Portico node whose Redis is unreachable at start (adapter = "${wire}")`, () => {
  test("serves its local clients, is not ready, and joins the cluster once Redis appears", async () => {
    // A free port with nothing on it yet: start a Redis to learn one, then stop it.
    const redis = await startRedis();
    await redis.stop();
    const node = await startServer(clusterToml(redis.url, wire));
    const clients = new Clients();
    try {
      const r = await readyz(node);
      assert.equal(r.status, 503);
      assert.match(r.body.reason, /Redis/);
      const s1 = await clients.connect(node.url);
      const s2 = await clients.connect(node.url);
      await Promise.all([s1.emitWithAck("join", "here"), s2.emitWithAck("join", "here")]);
      const got = once(s2, "local");
      await s1.emitWithAck("relay", { event: "local", to: "here" });
      await got;
      await redis.restart();
      await waitReady(node.url, 10_000);
      const peer = await startServer(clusterToml(redis.url, wire));
      try {
        await waitReady(peer.url);
        const remote = await clients.connect(peer.url);
        await remote.emitWithAck("join", "here");
        await eventually(async () => {
          const crossed = once(remote, "joined", 500).then(() => true, () => false);
          await s1.emitWithAck("relay", { event: "joined", to: "here" });
          return crossed;
        }, 5000, "cross-node delivery");
      } finally {
        clients.closeAll();
        await peer.stop();
      }
    } finally {
      clients.closeAll();
      await node.stop();
      await redis.stop();
    }
  });
});

for (const wire of ["redis", "redis-streams"]) describe(`presence across two Portico nodes (adapter = "${wire}")`, () => {
  const SECRET = "cluster-presence-secret";
  const API_KEY = "cluster-presence-operator-key-012345";
  const toml = (url) => `
[cluster]
adapter = "${wire}"
redis_url = "${url}"
[auth]
secret = "${SECRET}"
[api]
key = "${API_KEY}"
[namespaces."/chat"]
handler = "echo"
auth = "required"
presence = true
`;
  let redis, a, b;
  const clients = new Clients();
  let users = 0;
  const user = () => {
    users += 1;
    const sub = 5000 + users;
    return { sub, username: `p${sub}`, token: sign({ sub, username: `p${sub}`, exp: now() + 600 }, SECRET) };
  };
  const connect = (node, u) => clients.connect(`${node.url}/chat`, { auth: { token: u.token }, transports: ["websocket"] });
  const online = async (node) => {
    const res = await fetch(`${node.url}/api/v1/presence?namespace=/chat`, { headers: { authorization: `Bearer ${API_KEY}` } });
    return (await res.json()).users;
  };
  const socketsOf = async (node, u) => (await online(node)).find((x) => x.userId === String(u.sub))?.sockets ?? 0;

  before(async () => {
    redis = await startRedis();
    [a, b] = await Promise.all([startServer(toml(redis.url)), startServer(toml(redis.url))]);
    await Promise.all([waitReady(a.url), waitReady(b.url)]);
  });

  after(async () => {
    clients.closeAll();
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.stop();
  });

  test("a user with tabs on both nodes is online once everywhere, and offline once when the last tab anywhere closes", async () => {
    const [watchA, watchB] = [await connect(a, user()), await connect(b, user())];
    const [seenA, seenB] = [record(watchA), record(watchB)];
    const alice = user();
    const tab1 = await connect(a, alice);
    const tab2 = await connect(b, alice);
    for (const node of [a, b]) await eventually(async () => (await socketsOf(node, alice)) === 2, 5000, "both tabs listed");
    // user_online per connection (the seed's handleConnection), seen on both nodes.
    await eventually(() => seenA.events("user_online").filter((u) => u.userId === alice.sub).length === 2, 5000, "user_online on a");
    await eventually(() => seenB.events("user_online").filter((u) => u.userId === alice.sub).length === 2, 5000, "user_online on b");
    tab1.disconnect();
    for (const node of [a, b]) await eventually(async () => (await socketsOf(node, alice)) === 1, 5000, "one tab left");
    const offA = once(watchA, "user_offline");
    const offB = once(watchB, "user_offline");
    tab2.disconnect();
    assert.deepEqual(await offA, { userId: alice.sub, username: alice.username });
    assert.deepEqual(await offB, { userId: alice.sub, username: alice.username });
    for (const node of [a, b]) await eventually(async () => (await socketsOf(node, alice)) === 0, 5000, "offline everywhere");
    await sleep(300);
    for (const seen of [seenA, seenB]) {
      assert.equal(seen.events("user_offline").filter((u) => u.userId === alice.sub).length, 1, "exactly once");
    }
  });

  test("two last tabs on two nodes closing at once still make exactly one user_offline", async () => {
    const watch = await connect(a, user());
    const seen = record(watch);
    const bob = user();
    const t1 = await connect(a, bob);
    const t2 = await connect(b, bob);
    for (const node of [a, b]) await eventually(async () => (await socketsOf(node, bob)) === 2, 5000, "both tabs");
    t1.disconnect();
    t2.disconnect();
    await eventually(() => seen.events("user_offline").some((u) => u.userId === bob.sub), 5000, "user_offline");
    await sleep(500);
    assert.equal(seen.events("user_offline").filter((u) => u.userId === bob.sub).length, 1);
  });
});

describe("a Portico node killed with SIGKILL", () => {
  test("disappears from the others' presence within NODE_TIMEOUT + a heartbeat (5 s + 1 s)", async (t) => {
    const SECRET = "cluster-kill-secret";
    const toml = (url) => `
[cluster]
adapter = "redis"
redis_url = "${url}"
[auth]
secret = "${SECRET}"
[namespaces."/chat"]
handler = "echo"
auth = "required"
presence = true
`;
    const redis = await startRedis();
    const [a, b] = await Promise.all([startServer(toml(redis.url)), startServer(toml(redis.url))]);
    const clients = new Clients();
    try {
      await Promise.all([waitReady(a.url), waitReady(b.url)]);
      const token = (sub) => sign({ sub, username: `k${sub}`, exp: now() + 600 }, SECRET);
      const watch = await clients.connect(`${a.url}/chat`, { auth: { token: token(1) } });
      const seen = record(watch);
      const victim = await clients.connect(`${b.url}/chat`, { auth: { token: token(2) } });
      await eventually(() => seen.events("user_online").some((u) => u.userId === 2), 5000, "user_online");
      victim.io.opts.reconnection = false;
      const killed = Date.now();
      b.proc.kill("SIGKILL");
      const off = await once(watch, "user_offline", 10_000);
      const after = Date.now() - killed;
      t.diagnostic(`user_offline for the killed node's user ${after} ms after SIGKILL`);
      assert.deepEqual(off, { userId: 2, username: "k2" });
      // The bound is 6 s; a second of slack for a loaded machine.
      assert.ok(after <= 7000, `${after} ms`);
      await sleep(300);
      assert.equal(seen.events("user_offline").length, 1, "exactly once");
    } finally {
      clients.closeAll();
      await Promise.all([a.stop(), b.stop()]);
      await redis.stop();
    }
  });
});
