// The example deployment, deploy/chat.toml, exactly as `cargo xtask run` serves it (its
// file unchanged; only the listen address, the secrets and a copy of the plugins folder
// come from the environment), plus helpers its tests share: clients that are tracked and
// closed, tokens for fresh users, and recorders for "who received what".
import { readFileSync, mkdtempSync, cpSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { io } from "socket.io-client";
import { startServer, once } from "./server.mjs";
import { startRedis, waitReady } from "./cluster.mjs";
import { sign, now } from "./jwt.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const builtPlugins = process.env.PORTICO_PLUGINS_DIR ?? join(root, "target/plugins");

export const SECRET = "seed-e2e-secret";
export const API_KEY = "seed-e2e-operator-key-0123456789";

/** The deployment file: deploy/chat.toml, or the one `PORTICO_E2E_DEPLOY` names
 * (deploy/chat-ts.toml serves /chat with the TypeScript plugins). */
const deployFile = process.env.PORTICO_E2E_DEPLOY ?? "deploy/chat.toml";

/**
 * Starts deploy/chat.toml (or `PORTICO_E2E_DEPLOY`) with a private copy of the built plugins. With
 * `PORTICO_E2E_NODES=2` it starts two nodes of it on one redis-server instead (the file
 * unchanged: `PORTICO_REDIS_URL` turns the Redis adapter on), and every read of `url`
 * names the other node, so a test's clients and HTTP calls alternate between them.
 */
export async function startDeployment() {
  const nodes = Number(process.env.PORTICO_E2E_NODES ?? 1);
  const start = async (env = {}) => {
    const plugins = mkdtempSync(join(tmpdir(), "portico-deploy-"));
    cpSync(builtPlugins, plugins, { recursive: true });
    const server = await startServer(readFileSync(join(root, deployFile), "utf8"), {
      env: { PORTICO_PLUGINS_DIR: plugins, JWT_SECRET: SECRET, PORTICO_API_KEY: API_KEY, ...env },
      startMs: 60_000,
    });
    const stop = server.stop;
    server.stop = async () => {
      await stop();
      rmSync(plugins, { recursive: true, force: true });
    };
    return server;
  };
  if (nodes <= 1) return start();
  const redis = await startRedis();
  const servers = await Promise.all(Array.from({ length: nodes }, () => start({ PORTICO_REDIS_URL: redis.url })));
  await Promise.all(servers.map((s) => waitReady(s.url)));
  let next = 0;
  const pick = () => servers[next++ % servers.length];
  return {
    nodes: servers,
    get url() {
      return pick().url;
    },
    get wsUrl() {
      return pick().wsUrl;
    },
    alive: () => servers.every((s) => s.alive()),
    output: () => servers.map((s) => s.output()).join("\n"),
    stop: async () => {
      await Promise.all(servers.map((s) => s.stop()));
      await redis.stop();
    },
  };
}

let users = 0;
/**
 * A new user: `{sub, username, token}`. Subs are numbers, as a NestJS app signs
 * `sub: user.id`, and unique per file run whatever order tests run in.
 */
export function newUser({ ttl = 3600, claims = {} } = {}) {
  users += 1;
  const sub = 1000 + users;
  const username = `user${sub}`;
  const payload = { sub, username, email: `${username}@example.com`, iat: now(), exp: now() + ttl, ...claims };
  return { sub, username, claims: payload, token: sign(payload, SECRET) };
}

/** Clients of one server, closed together. */
export class Clients {
  constructor() {
    this.sockets = [];
  }

  /** A socket.io client for `url` (not yet connected). */
  open(url, opts = {}) {
    const s = io(url, { forceNew: true, reconnection: false, ...opts });
    this.sockets.push(s);
    return s;
  }

  /** A connected socket.io client; `.user` is the user it connected as, if any. */
  async connect(url, { user, ...opts } = {}) {
    const s = this.open(url, user ? { auth: { token: user.token }, ...opts } : opts);
    await once(s, "connect");
    return Object.assign(s, { user });
  }

  closeAll() {
    this.sockets.forEach((s) => s.disconnect());
    this.sockets = [];
  }
}

/**
 * Records every event a socket receives, in order, as `[event, ...args]`.
 * `events(name)` gives the arguments of each `name` received.
 */
export function record(socket) {
  const log = [];
  socket.onAny((event, ...args) => event !== FENCE && log.push([event, ...args]));
  return {
    log,
    events: (name) => log.filter(([e]) => e === name).map(([, ...args]) => (args.length === 1 ? args[0] : args)),
    clear: () => log.splice(0, log.length),
  };
}

/** The event [`fence`] sends; [`record`] leaves it out. */
const FENCE = "e2e:fence";
let fences = 0;

/**
 * Resolves once the server has handled everything `socket` sent before the call, and
 * everything any node of `server` sent `socket` has arrived. First `answered(socket)`, an
 * event its node acks, comes back on the socket's own connection, after whatever it sent
 * before. That is not enough on two nodes: what another node emitted reaches this one
 * through Redis, later. So then every node emits a marker to the socket through the
 * operator API; a node publishes in one ordered queue, and its marker reaches the socket
 * after whatever that node sent it before.
 */
export async function fence(server, socket, answered, ms = 5000) {
  await answered(socket);
  const nodes = server.nodes ?? [server];
  const tag = `fence-${++fences}`;
  const pending = new Set(nodes.map((_, i) => `${tag}:${i}`));
  let onMarker;
  const arrived = new Promise((resolve) => {
    onMarker = (marker) => pending.delete(marker) && pending.size === 0 && resolve();
    socket.on(FENCE, onMarker);
  });
  try {
    await Promise.all(
      nodes.map(async (node, i) => {
        const res = await fetch(`${node.url}/api/v1/emit`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${API_KEY}` },
          body: JSON.stringify({ namespace: socket.nsp, event: FENCE, data: `${tag}:${i}`, sockets: [socket.id] }),
        });
        if (res.status !== 200) throw new Error(`fence: /api/v1/emit answered ${res.status} ${await res.text()}`);
      }),
    );
    let timer;
    const late = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`fence: markers ${[...pending]} not received within ${ms} ms`)), ms);
    });
    await Promise.race([arrived, late]).finally(() => clearTimeout(timer));
  } finally {
    socket.off(FENCE, onMarker);
  }
}

/** Whether an ack arrives within `ms`: resolves `{acked: true, args}` or `{acked: false}`. */
export function ackWithin(socket, ms, event, ...args) {
  return socket
    .timeout(ms)
    .emitWithAck(event, ...args)
    .then(
      (answer) => ({ acked: true, answer }),
      () => ({ acked: false }),
    );
}

/** Keys of an object, sorted: compare exact key sets. */
export const keys = (o) => Object.keys(o).sort();
