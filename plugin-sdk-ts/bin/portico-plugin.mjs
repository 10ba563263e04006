#!/usr/bin/env node
// `portico-plugin build <plugin.ts> [-o plugin.wasm]`: turns a TypeScript (or
// JavaScript) plugin into a WebAssembly component for Portico.
//
// 1. Reads the plugin's kind (its default export, evaluated under Node) to pick its WIT
//    world: gateway → handler-plugin, validator, guard, filter, controller →
//    http-handler-plugin.
// 2. Bundles it with esbuild behind a generated entry that imports that world's
//    interfaces (`portico:plugin/*`, left to the component model) and binds them with
//    `exportsFor`.
// 3. Makes the component with componentize-js (SpiderMonkey), outbound HTTP and the
//    fetch event disabled: Portico offers neither.
import { mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");

/** The interfaces each world imports, and the one it exports (as componentize-js names it). */
const WORLDS = {
  handler: { world: "handler-plugin", imports: ["log", "config", "sockets", "store", "presence"], export: "handler" },
  http: { world: "http-handler-plugin", imports: ["log", "config", "sockets", "store", "presence"], export: "httpHandler" },
  validator: { world: "validator-plugin", imports: ["log", "config"], export: "validator" },
  guard: { world: "guard-plugin", imports: ["log", "config"], export: "guard" },
  filter: { world: "filter-plugin", imports: ["log", "config"], export: "filter" },
};

function usage(code) {
  console.error("usage: portico-plugin build <plugin.ts> [-o <plugin.wasm>]");
  process.exit(code);
}

async function kindOf(entry, work, esbuild) {
  const probe = join(work, "probe.mjs");
  await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    format: "esm",
    platform: "node",
    outfile: probe,
    logLevel: "error",
  });
  const plugin = (await import(pathToFileURL(probe).href)).default;
  const kind = plugin?.kind;
  if (!Object.hasOwn(WORLDS, kind ?? "")) {
    throw new Error(
      `${entry}: its default export must be a plugin from @portico/plugin-sdk (gateway, validator, guard, filter or controller); got ${JSON.stringify(kind)}`,
    );
  }
  return kind;
}

async function build(entry, out) {
  const esbuild = await import("esbuild");
  const { componentize } = await import("@bytecodealliance/componentize-js");
  const work = mkdtempSync(join(tmpdir(), "portico-plugin-"));
  const started = performance.now();
  try {
    const kind = await kindOf(entry, work, esbuild);
    const { world, imports, export: exported } = WORLDS[kind];
    // Next to the plugin, so `@portico/plugin-sdk` resolves to the same copy for both.
    const wrapper = join(dirname(entry), `.portico-entry-${process.pid}.mjs`);
    writeFileSync(
      wrapper,
      [
        ...imports.map((name) => `import * as ${name} from "portico:plugin/${name}@0.2.0";`),
        `import { exportsFor } from "@portico/plugin-sdk/runtime";`,
        `import plugin from ${JSON.stringify("./" + basename(entry))};`,
        `export const ${exported} = exportsFor(plugin, { ${imports.join(", ")} }).${exported};`,
        "",
      ].join("\n"),
    );
    const bundle = join(work, "bundle.js");
    try {
      await esbuild.build({
        entryPoints: [wrapper],
        bundle: true,
        format: "esm",
        platform: "neutral",
        mainFields: ["module", "main"],
        target: "es2022",
        external: ["portico:plugin/*"],
        outfile: bundle,
        logLevel: "error",
      });
    } finally {
      rmSync(wrapper, { force: true });
    }
    const { component } = await componentize({
      sourcePath: bundle,
      witPath: join(pkg, "wit"),
      worldName: world,
      disableFeatures: ["http", "fetch-event"],
    });
    // Written beside it and renamed: a gateway watching the folder never loads half a file.
    const partial = join(dirname(out), `.${basename(out)}.${process.pid}.tmp`);
    writeFileSync(partial, component);
    renameSync(partial, out);
    const ms = Math.round(performance.now() - started);
    console.log(
      `portico-plugin: ${basename(entry)} → ${out} (${world}, ${(statSync(out).size / 1048576).toFixed(1)} MiB, JS ${(readFileSync(bundle).length / 1024).toFixed(1)} KiB, ${ms} ms)`,
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const [command, ...rest] = process.argv.slice(2);
if (command !== "build") usage(command === "--help" || command === "-h" ? 0 : 2);
const { values, positionals } = parseArgs({
  args: rest,
  options: { out: { type: "string", short: "o" } },
  allowPositionals: true,
});
if (positionals.length !== 1) usage(2);
const entry = resolve(positionals[0]);
const out = resolve(values.out ?? basename(entry).replace(/\.[cm]?[jt]s$/, "") + ".wasm");
build(entry, out).catch((e) => {
  console.error(`portico-plugin: ${e.message ?? e}`);
  process.exit(1);
});
