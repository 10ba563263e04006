// Several Portico nodes on one real redis-server: exactly-once, in-order delivery across
// nodes, and what happens when Redis is unreachable, killed, or sends garbage.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import { Emitter } from "@socket.io/redis-emitter";
import { startServer, once, sleep } from "./lib/server.mjs";
import { startRedis, waitReady, eventually } from "./lib/cluster.mjs";
import { Clients } from "./lib/deploy.mjs";

const clusterToml = (url) => `
[cluster]
adapter = "redis"
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
  const text = await (await fetch(`${node.url}/metrics`)).text();
  return Number(text.match(new RegExp(`^${name} (\\d+)`, "m"))?.[1]);
}

describe("two Portico nodes on one Redis", () => {
  let redis, a, b;
  const clients = new Clients();

  before(async () => {
    redis = await startRedis();
    [a, b] = await Promise.all([startServer(clusterToml(redis.url)), startServer(clusterToml(redis.url))]);
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
    }
    members.forEach((s) => s.disconnect());
  });

  test("a malformed or oversized message from Redis is dropped and counted; the nodes go on", async () => {
    const before = await metric(a, "portico_cluster_malformed_total");
    const raw = createClient({ url: redis.url });
    await raw.connect();
    try {
      await raw.publish("socket.io#/#", Buffer.from([0xc1, 0x00]));
      await raw.publish("socket.io#/#", Buffer.from([0x93, 0xa1, 0x78]));
      await raw.publish("socket.io-request#/#", "{not json");
      await raw.publish("socket.io-request#/#", JSON.stringify({ type: 99 }));
      await raw.publish("socket.io-response#/#", JSON.stringify({ sockets: [] }));
      await raw.publish("socket.io#/#", Buffer.alloc(5_000_000, 0x90));
      // Then a good message, from the emitter: it must still arrive.
      const pa = await clients.connect(a.url);
      const pb = await clients.connect(b.url);
      const got = [once(pa, "fine"), once(pb, "fine")];
      new Emitter(raw).emit("fine", 1);
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

describe("a Portico node whose Redis is unreachable at start", () => {
  test("serves its local clients, is not ready, and joins the cluster once Redis appears", async () => {
    // A free port with nothing on it yet: start a Redis to learn one, then stop it.
    const redis = await startRedis();
    await redis.stop();
    const node = await startServer(clusterToml(redis.url));
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
      const peer = await startServer(clusterToml(redis.url));
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
