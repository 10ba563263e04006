// The committed `wit-types/` are what jco generates from the repository's `wit/` today:
// a WIT change without `npm run types` fails here.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");
const WORLDS = ["handler-plugin", "http-handler-plugin", "validator-plugin", "guard-plugin", "filter-plugin"];

function files(dir) {
  return readdirSync(dir, { recursive: true })
    .filter((f) => f.endsWith(".d.ts") && f !== "index.d.ts")
    .sort();
}

test("wit-types/ matches jco guest-types of wit/", () => {
  const scratch = ".wit-types-check";
  rmSync(join(pkg, scratch), { recursive: true, force: true });
  try {
    // jco reads and writes through a WASI sandbox of the working directory: relative paths.
    for (const world of WORLDS) {
      execFileSync(join(pkg, "node_modules", ".bin", "jco"), ["guest-types", "wit", "-n", world, "-o", scratch, "-q"], { cwd: pkg });
    }
    const fresh = files(join(pkg, scratch));
    assert.deepEqual(files(join(pkg, "wit-types")), fresh);
    for (const f of fresh) {
      assert.equal(readFileSync(join(pkg, "wit-types", f), "utf8"), readFileSync(join(pkg, scratch, f), "utf8"), `${f} is stale: run npm run types`);
    }
  } finally {
    rmSync(join(pkg, scratch), { recursive: true, force: true });
  }
});
