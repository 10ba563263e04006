// Graceful shutdown on the real binary: at SIGTERM an event a plugin is still
// handling finishes and its ack reaches the client before the connection closes, on
// WebSocket and on long-polling alike; the client sees a transport close (not a
// server disconnect), so socket.io-client reconnects by itself, here to the next
// server on the same address.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { io } from "socket.io-client";
import { startServer, once, sleep } from "./lib/server.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const PLUGINS = process.env.PORTICO_PLUGINS_DIR ?? resolve(here, "../target/plugins");

let root;
before(() => {
  root = mkdtempSync(join(tmpdir(), "portico-e2e-shutdown-"));
  mkdirSync(join(root, "plugins"));
  copyFileSync(join(PLUGINS, "misbehaving.wasm"), join(root, "plugins", "misbehaving.wasm"));
});
after(() => rmSync(root, { recursive: true, force: true }));

// `slow-join` spins for `ms` before it acks: a plugin call in flight. Its deadline is
// raised past that, and stays within the 2 s shutdown grace.
const config = () => `
[plugins]
dir = ${JSON.stringify(join(root, "plugins"))}

[plugins.settings.misbehaving]
deadline_ms = 1500

[namespaces."/m"]
plugins = ["misbehaving"]
`;

const exited = (server) =>
  new Promise((done) => (server.alive() ? server.proc.once("exit", (code, signal) => done({ code, signal })) : done({ code: server.proc.exitCode })));

for (const transport of ["websocket", "polling"]) {
  describe(`SIGTERM with a plugin call in flight (${transport})`, () => {
    let first, second, socket;
    after(async () => {
      socket?.close();
      await first?.stop();
      await second?.stop();
    });

    it("acks the event, closes as a transport close, and the client reconnects to the next server", async () => {
      first = await startServer(config());
      socket = io(`${first.url}/m`, {
        transports: [transport],
        reconnectionDelay: 100,
        reconnectionDelayMax: 200,
      });
      await once(socket, "connect");
      const reasons = [];
      socket.on("disconnect", (reason) => reasons.push(reason));

      const ack = socket.timeout(5000).emitWithAck("slow-join", { room: "r", ms: 700 });
      await sleep(150);
      first.proc.kill("SIGTERM");
      assert.equal(await ack, "joined", "the call in flight finished and its ack was sent");
      assert.equal((await exited(first)).code, 0, "a clean exit");
      await eventually(() => reasons.length === 1, "the disconnect");
      assert.equal(reasons[0], "transport close", "not `io server disconnect`: the client reconnects");

      second = await startServer(config(), { listen: `127.0.0.1:${first.port}` });
      await once(socket, "connect", 10_000);
      assert.equal(await socket.timeout(3000).emitWithAck("slow-join", { room: "r", ms: 0 }), "joined");
    });
  });
}

async function eventually(check, what, ms = 5000) {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
