#!/usr/bin/env node
// After `tsc`: points every emitted declaration at the WIT's guest types, which `tsc`
// does not carry over, so a plugin type-checks against `portico:plugin/*` with
// `skipLibCheck` off too.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const dist = join(dirname(fileURLToPath(import.meta.url)), "..", "dist");
const reference = '/// <reference path="../wit-types/index.d.ts" />\n';
for (const name of readdirSync(dist).filter((n) => n.endsWith(".d.ts"))) {
  const file = join(dist, name);
  const text = readFileSync(file, "utf8");
  if (!text.startsWith(reference)) writeFileSync(file, reference + text);
}
