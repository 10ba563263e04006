// A real cluster for tests: `redis-server` processes on free loopback ports (killed and
// restarted for the fault cases), and real Node socket.io 4 servers with
// `@socket.io/redis-adapter`, which speak the same echo commands as Portico's built-in
// handler so a test drives both sides the same way.
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { createServer as createHttpServer } from "node:http";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import { createAdapter as createStreamsAdapter } from "@socket.io/redis-streams-adapter";
import { createClient } from "redis";
import { sleep } from "./server.mjs";

/** A port free on 127.0.0.1 right now. */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Runs `redis-server` on `port` until it is ready; rejects if it cannot bind. */
function runRedis(port) {
  const proc = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${out}`)), 10_000);
    const onData = (d) => {
      out += d;
      if (out.includes("Ready to accept connections")) {
        clearTimeout(timer);
        resolve(proc);
      }
    };
    proc.stdout.on("data", onData);
    proc.stderr.on("data", onData);
    proc.on("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run redis-server (is it installed? \`cargo xtask test\` installs it): ${e.message}`));
    });
    proc.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}:\n${out}`));
    });
  });
}

/**
 * A real redis-server on a free loopback port: `{url, port, kill(), restart(), stop()}`.
 * A port taken between choosing and binding is retried with another, so two runs
 * never collide.
 */
export async function startRedis() {
  let port;
  let proc;
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    try {
      proc = await runRedis(port);
      break;
    } catch (e) {
      if (attempt >= 4) throw e;
    }
  }
  const exited = (p) => p.exitCode !== null || p.signalCode !== null;
  const stopProc = (p, signal) =>
    new Promise((done) => {
      if (exited(p)) return done();
      p.once("exit", () => done());
      p.kill(signal);
    });
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    /** Kills the server at once (SIGKILL): a crash, not a shutdown. */
    kill: () => stopProc(proc, "SIGKILL"),
    /** Starts it again on the same port. */
    restart: async () => {
      proc = await runRedis(port);
    },
    stop: () => stopProc(proc, "SIGTERM"),
  };
}

/** The echo handler's room commands, for a Node server's sockets. */
function serveEcho(nsp) {
  nsp.on("connection", (socket) => {
    socket.on("join", (rooms, ack) => {
      socket.join(rooms);
      ack?.({ rooms: [...socket.rooms].sort() });
    });
    socket.on("relay", (cmd, ack) => {
      let op = nsp;
      for (const room of [cmd.to ?? []].flat()) op = op.to(room);
      for (const room of [cmd.except ?? []].flat()) op = op.except(room);
      if (cmd.exceptSender) op = op.except(socket.id);
      op.emit(cmd.event, ...(cmd.args ?? (cmd.data === undefined ? [] : [cmd.data])));
      ack?.({ ok: true });
    });
  });
}

/** Clients of the Redis at `client` blocked in (or last running) an XREAD. */
async function streamReaders(client) {
  const list = await client.sendCommand(["CLIENT", "LIST"]);
  return list.split("\n").filter((line) => / cmd=xread /.test(line)).length;
}

/**
 * A Node socket.io 4 server on `redisUrl`, serving the echo room commands on
 * `namespaces`: `{io, url, close()}`. `wire` picks its adapter: `redis`
 * (`@socket.io/redis-adapter`) or `redis-streams` (`@socket.io/redis-streams-adapter`,
 * with connection state recovery on when `recovery` is set).
 */
export async function startNodePeer(redisUrl, { namespaces = ["/"], wire = "redis", recovery } = {}) {
  const pub = createClient({ url: redisUrl });
  const sub = pub.duplicate();
  // A test that kills Redis sees errors here; they are the client's to retry.
  pub.on("error", () => {});
  sub.on("error", () => {});
  await Promise.all([pub.connect(), sub.connect()]);
  const numSub = async (channel) => Object.values(await pub.pubSubNumSub(channel))[0] ?? 0;
  const requests = (name) => (wire === "redis" ? `socket.io-request#${name}#` : `socket.io#${name}#`);
  // Nodes already subscribed (a Portico node, say): this one's subscription is one more.
  const before = Object.fromEntries(
    await Promise.all(namespaces.map(async (name) => [name, await numSub(requests(name))])),
  );
  const readersBefore = await streamReaders(pub);
  const http = createHttpServer();
  const options =
    wire === "redis"
      ? { adapter: createAdapter(pub, sub) }
      : {
          adapter: createStreamsAdapter(pub),
          ...(recovery ? { connectionStateRecovery: recovery } : {}),
        };
  const io = new Server(http, options);
  for (const name of namespaces) serveEcho(io.of(name));
  await new Promise((r) => http.listen(0, "127.0.0.1", r));
  const { port } = http.address();
  // The adapter subscribes asynchronously: wait until Redis counts this node too (its
  // PSUBSCRIBE went first on the same connection, so it is in place as well).
  for (const name of namespaces) {
    await eventually(async () => (await numSub(requests(name))) > before[name], 5000, `the Node adapter on ${name}`);
  }
  // The streams adapter reads from "$" once its reader is connected: entries added
  // before its first XREAD would never reach it.
  if (wire !== "redis") {
    await eventually(async () => (await streamReaders(pub)) > readersBefore, 5000, "the Node stream reader");
  }
  return {
    io,
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      await new Promise((r) => io.close(() => r()));
      await Promise.allSettled([pub.quit(), sub.quit()]);
    },
  };
}

/** Resolves once `GET url/readyz` answers 200 (the node's Redis link is up). */
export async function waitReady(url, ms = 10_000) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/readyz`);
      last = await res.text();
      if (res.status === 200) return;
    } catch (e) {
      last = e.message;
    }
    await sleep(50);
  }
  throw new Error(`not ready after ${ms} ms: ${last}`);
}

/** Polls `check` (sync or async) until it returns truthy, or throws after `ms`. */
export async function eventually(check, ms = 5000, what = "condition") {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
