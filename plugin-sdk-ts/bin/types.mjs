#!/usr/bin/env node
// Regenerates `wit-types/`: jco's guest types (ambient `portico:plugin/*` modules) for
// every world of the WIT, which the SDK is type-checked against.
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");
const jco = join(pkg, "node_modules", ".bin", "jco");
for (const world of ["handler-plugin", "http-handler-plugin", "validator-plugin", "guard-plugin", "filter-plugin"]) {
  execFileSync(jco, ["guest-types", "wit", "-n", world, "-o", "wit-types", "-q"], { cwd: pkg, stdio: "inherit" });
}
