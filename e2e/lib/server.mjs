// Starts the real portico binary on a free loopback port with a generated config,
// and stops it. Every test file uses this; nothing here is mocked.
import { spawn } from "node:child_process";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

/** Path of the binary under test: $PORTICO_BIN, else the release build. */
export const BIN = process.env.PORTICO_BIN ?? resolve(here, "../../target/release/portico");

/**
 * Starts portico with `toml` as its config (listen address forced to `listen`, by
 * default a free port), and `args` after the others. Resolves to { url, port, proc, stop(), output(),
 * configPath, rewrite(toml) } once it prints its address, within `startMs` (a JavaScript
 * plugin's component compiles for seconds the first time the machine loads it).
 */
export async function startServer(toml = "", { env = {}, args = [], listen = "127.0.0.1:0", startMs = 10_000 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "portico-e2e-"));
  const configPath = join(dir, "portico.toml");
  writeFileSync(configPath, toml);
  const proc = spawn(BIN, ["serve", "--config", configPath, "--listen", listen, ...args], {
    env: { ...process.env, PORTICO_LOG: process.env.PORTICO_LOG ?? "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stderr.on("data", (d) => (out += d));
  const port = await new Promise((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error(`portico did not start in ${startMs} ms:\n${out}`)), startMs);
    let buf = "";
    proc.stdout.on("data", (d) => {
      buf += d;
      const m = buf.match(/listening on 127\.0\.0\.1:(\d+)/);
      if (m) {
        clearTimeout(timer);
        resolvePort(Number(m[1]));
      }
    });
    proc.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`portico exited with ${code} before listening:\n${out}`));
    });
  });
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}`,
    proc,
    output: () => out,
    configPath,
    /** Replaces the config file as editors do: a new file renamed over it. */
    rewrite: (text) => {
      const next = join(dir, "portico.toml.next");
      writeFileSync(next, text);
      renameSync(next, configPath);
    },
    /** True while the process is running. */
    alive: () => proc.exitCode === null && proc.signalCode === null,
    /** Stops the process and removes its config directory. */
    stop: async () => {
      await new Promise((done) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return done();
        proc.once("exit", () => done());
        proc.kill("SIGTERM");
        setTimeout(() => proc.kill("SIGKILL"), 3000).unref();
      });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Resolves with the first emission of `event` on `emitter`, or rejects after `ms`. */
export function once(emitter, event, ms = 5000) {
  return new Promise((resolveEvent, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for "${event}"`)), ms);
    emitter.once(event, (...args) => {
      clearTimeout(timer);
      resolveEvent(args.length <= 1 ? args[0] : args);
    });
  });
}

/** Sleeps `ms` milliseconds. */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
