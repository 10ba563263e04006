#!/usr/bin/env node
// Copies the repository's `wit/` (the one contract between host and plugins) into the
// package, so a published package builds plugins against the WIT it was made with.
import { cpSync, existsSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(pkg, "..", "wit");
if (existsSync(source)) {
  rmSync(join(pkg, "wit"), { recursive: true, force: true });
  cpSync(source, join(pkg, "wit"), { recursive: true, filter: (p) => !p.endsWith(".md") });
}
