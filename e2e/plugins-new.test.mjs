// `portico plugins new`, as a plugin author uses it, in a folder outside the repository:
// each kind's crate passes its own native tests, builds to a component that
// `portico plugins check` says would load, and the handler goes live in a running
// gateway, then live again after an edit and a rebuild, while its clients stay connected.
//
// The crates build into the example plugins' target folder with their lock file, so the
// SDK and its dependencies (same versions, same profile) are compiled once per machine,
// not once per crate; the components this writes there are removed at the end.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { io } from "socket.io-client";
import { BIN as BIN_PATH, startServer, sleep } from "./lib/server.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const TARGET = resolve(here, "../plugins/target");
const LOCK = resolve(here, "../plugins/Cargo.lock");
const BUILT = join(TARGET, "wasm32-wasip2/release");
/** The binary, absolute: commands run in the scratch folder. */
const BIN = resolve(BIN_PATH);

/** Runs a command in `cwd`, returning stdout; a failure throws with its output. */
function run(cmd, args, cwd) {
  try {
    return execFileSync(cmd, args, {
      cwd,
      env: { ...process.env, CARGO_TARGET_DIR: TARGET, RUST_BACKTRACE: "0" },
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 600_000,
    });
  } catch (err) {
    throw new Error(`${cmd} ${args.join(" ")} failed in ${cwd}:\n${err.stdout}\n${err.stderr}`);
  }
}

const root = mkdtempSync(join(tmpdir(), "portico-plugins-new-"));
const made = [];
after(() => {
  rmSync(root, { recursive: true, force: true });
  for (const name of made) {
    const file = `${name.replaceAll("-", "_")}.wasm`;
    rmSync(join(BUILT, file), { force: true });
    rmSync(join(BUILT, "deps", file), { force: true });
  }
});

/** Each `--kind`'s world. */
const WORLDS = {
  handler: "handler-plugin",
  validator: "validator-plugin",
  guard: "guard-plugin",
  filter: "filter-plugin",
  http: "http-handler-plugin",
};

/** `portico plugins new NAME --kind KIND` in the scratch folder; returns the crate's folder. */
function scaffold(name, kind) {
  const out = run(BIN, ["plugins", "new", name, "--kind", kind], root);
  made.push(name);
  assert.match(out, new RegExp(`created plugin \`${name}\` \\(world portico:plugin/${WORLDS[kind]}\\)`));
  const dir = join(root, name);
  copyFileSync(LOCK, join(dir, "Cargo.lock"));
  return dir;
}

/** Builds the crate's component and returns its path. */
function build(dir, name) {
  run("cargo", ["build", "--release", "--target", "wasm32-wasip2"], dir);
  return join(BUILT, `${name.replaceAll("-", "_")}.wasm`);
}

describe("portico plugins new", () => {
  for (const [kind, world] of Object.entries(WORLDS)) {
    it(`--kind ${kind}: its tests pass, it builds, and the gateway would load it`, () => {
      const name = `new-${kind}`;
      const dir = scaffold(name, kind);
      const tests = run("cargo", ["test"], dir);
      assert.match(tests, /test result: ok\. [1-9]\d* passed; 0 failed/);
      const report = run(BIN, ["plugins", "check", build(dir, name)], dir);
      assert.match(report, new RegExp(`world: portico:plugin/${world}`));
      assert.match(report, /would load: yes/);
    });
  }

  it("refuses a name that cannot be a crate, and a folder that exists", () => {
    assert.throws(() => run(BIN, ["plugins", "new", "Not-A-Crate"], root), /is not a plugin name/);
    mkdirSync(join(root, "taken"));
    assert.throws(() => run(BIN, ["plugins", "new", "taken"], root), /already exists/);
  });

  describe("the handler, live in a gateway, then live again after an edit", () => {
    const name = "shout";
    let dir;
    let plugins;
    let server;
    const clients = [];
    before(async () => {
      dir = scaffold(name, "handler");
      plugins = join(root, "served");
      mkdirSync(plugins);
      copyFileSync(build(dir, name), join(plugins, `${name}.wasm`));
      server = await startServer(
        `[plugins]\ndir = ${JSON.stringify(plugins)}\ncache_dir = ${JSON.stringify(join(root, "cache"))}\n\n[namespaces."/"]\nplugins = ["${name}"]\n`,
      );
    });
    after(async () => {
      for (const c of clients) c.disconnect();
      await server?.stop();
    });

    const connect = () =>
      new Promise((done, fail) => {
        const s = io(server.url, { forceNew: true, reconnection: false, transports: ["websocket"] });
        clients.push(s);
        s.once("connect", () => done(s));
        s.once("connect_error", fail);
      });

    it("joins, shouts to the room, and after a rebuild says it in lower case", async () => {
      const [alice, bob] = [await connect(), await connect()];
      const disconnects = [];
      for (const s of [alice, bob]) s.on("disconnect", (why) => disconnects.push(why));
      for (const s of [alice, bob]) assert.deepEqual(await s.timeout(2000).emitWithAck("join", "lobby"), { joined: "lobby" });
      const heard = new Promise((done) => bob.once("said", done));
      assert.deepEqual(await alice.timeout(2000).emitWithAck("say", { room: "lobby", text: "hi" }), { said: "HI" });
      assert.deepEqual(await heard, { from: alice.id, text: "HI" });
      // A bad payload is the client's error, not the plugin's crash.
      const error = new Promise((done) => alice.once("error", done));
      alice.emit("say", { room: "lobby" });
      assert.equal((await error).code, "VALIDATION_ERROR");

      const source = join(dir, "src/lib.rs");
      writeFileSync(source, readFileSync(source, "utf8").replace("to_uppercase()", "to_lowercase()"));
      const rebuilt = build(dir, name);
      copyFileSync(rebuilt, join(plugins, `.${name}.tmp`));
      renameSync(join(plugins, `.${name}.tmp`), join(plugins, `${name}.wasm`));
      const deadline = Date.now() + 10_000;
      let ack;
      for (;;) {
        ack = await alice.timeout(2000).emitWithAck("say", { room: "lobby", text: "Hi" });
        if (ack.said === "hi" || Date.now() > deadline) break;
        await sleep(50);
      }
      assert.deepEqual(ack, { said: "hi" }, "the rebuilt plugin is live");
      assert.ok(alice.connected && bob.connected, "clients stayed connected through the reload");
      assert.deepEqual(disconnects, []);
    });
  });
});
