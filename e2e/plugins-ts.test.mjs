// A TypeScript plugin as its author makes one, in a folder outside the repository: the
// packed `@portico/plugin-sdk` installed from its tarball, `npx portico-plugin build`
// for each kind, `portico plugins check` saying it would load, and a gateway running
// the handler, then running the edited handler after a rebuild into its plugins folder,
// while its client stays connected. A thrown WsException reaches the client as the
// filter path's `error` event, any other throw as INTERNAL_ERROR.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { io } from "socket.io-client";
import { BIN as BIN_PATH, startServer, once, sleep } from "./lib/server.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const SDK = resolve(here, "../plugin-sdk-ts");
const BIN = resolve(BIN_PATH);

/** Runs a command in `cwd`, returning stdout; a failure throws with its output. */
function run(cmd, args, cwd) {
  try {
    return execFileSync(cmd, args, {
      cwd,
      env: { ...process.env, RUST_BACKTRACE: "0" },
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 300_000,
    });
  } catch (err) {
    throw new Error(`${cmd} ${args.join(" ")} failed in ${cwd}:\n${err.stdout}\n${err.stderr}`);
  }
}

const root = mkdtempSync(join(tmpdir(), "portico-plugins-ts-"));
after(() => rmSync(root, { recursive: true, force: true }));

const HANDLER = (greeting) => `
import { gateway, WsException } from "@portico/plugin-sdk";

export default gateway({
  hello(client, dto: { name?: string }) {
    if (!dto?.name) throw new WsException("name is required");
    client.to("lobby").emit("greeted", { name: dto.name });
    return { ${greeting}: dto.name, id: client.id };
  },
  join(client, room: string) {
    client.join(room);
    return { joined: room };
  },
  crash(client, dto: { text: string }) {
    return dto.text.length;
  },
});
`;

/** The other kinds, one small plugin each, and the world each must build to. */
const KINDS = {
  "validator-plugin": `import { dto, validationPipe, IsString } from "@portico/plugin-sdk";
export default validationPipe({ say: dto({ text: [IsString()] }) }, { whitelist: true });`,
  "guard-plugin": `import { guard } from "@portico/plugin-sdk";
export default guard((client, event) => event !== "forbidden");`,
  "filter-plugin": `import { filter } from "@portico/plugin-sdk";
export default filter((error, client, event) => ({ status: "error", message: error.message, event }));`,
  "http-handler-plugin": `import { controller } from "@portico/plugin-sdk";
export default controller({ "POST /ping": (req) => ({ pong: req.json }) });`,
};

describe("a TypeScript plugin, from an empty folder to a live reload", () => {
  let project;
  before(() => {
    // The package as npm would publish it: its tarball, installed with its dependencies.
    const tarball = run("npm", ["pack", "--pack-destination", root, "--silent"], SDK).trim().split("\n").at(-1);
    project = join(root, "hello");
    mkdirSync(project);
    run("npm", ["init", "-y"], project);
    run("npm", ["pkg", "set", "type=module"], project);
    run("npm", ["install", "--no-audit", "--no-fund", join(root, tarball)], project);
  });

  it("each kind builds to a component of its world that would load", () => {
    for (const [world, source] of Object.entries(KINDS)) {
      const file = `${world}.ts`;
      writeFileSync(join(project, file), source);
      const built = run("npx", ["portico-plugin", "build", file], project);
      assert.match(built, new RegExp(`\\(${world}, `), built);
      const check = run(BIN, ["plugins", "check", join(project, `${world}.wasm`)], project);
      assert.match(check, new RegExp(`world: portico:plugin/${world}\\b`), check);
      assert.match(check, /would load: yes/, check);
    }
  });

  it("a handler goes live, answers, and answers anew after a rebuild while its client stays connected", async () => {
    writeFileSync(join(project, "hello.ts"), HANDLER("hello"));
    const plugins = join(root, "plugins");
    mkdirSync(plugins);
    run("npx", ["portico-plugin", "build", "hello.ts", "-o", join(plugins, "hello.wasm")], project);
    const server = await startServer(
      `
[plugins]
dir = "${plugins}"
watch = true
[namespaces."/"]
plugins = ["hello"]
`,
      { startMs: 60_000, env: { PORTICO_LOG: "info" } },
    );
    const client = io(server.url, { forceNew: true, transports: ["websocket"], reconnection: false });
    try {
      await once(client, "connect");
      const id = client.id;
      assert.deepEqual(await client.timeout(5000).emitWithAck("hello", { name: "ann" }), { hello: "ann", id });
      const error = once(client, "error");
      client.emit("hello", {});
      assert.deepEqual(await error, { message: "name is required", code: "WS_ERROR" });
      const internal = once(client, "error");
      client.emit("crash", null);
      assert.deepEqual(await internal, { message: "Internal error", code: "INTERNAL_ERROR" });

      const loads = () => (server.output().match(/plugin loaded/g) ?? []).length;
      const before = loads();
      writeFileSync(join(project, "hello.ts"), HANDLER("welcome"));
      run("npx", ["portico-plugin", "build", "hello.ts", "-o", join(plugins, "hello.wasm")], project);
      const deadline = Date.now() + 60_000;
      while (loads() === before) {
        if (Date.now() > deadline) throw new Error(`no reload:\n${server.output()}`);
        await sleep(100);
      }
      assert.deepEqual(await client.timeout(5000).emitWithAck("hello", { name: "ann" }), { welcome: "ann", id });
      assert.equal(client.connected, true, "the same connection throughout");
      assert.equal(client.id, id);
      assert.deepEqual(readdirSync(plugins), ["hello.wasm"], "no partial file left behind");
    } finally {
      client.close();
      await server.stop();
    }
  });
});
