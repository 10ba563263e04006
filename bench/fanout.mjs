// Fan-out benchmark: one sender relays M messages to a room of C clients, on Portico
// (the release binary) and on the reference Node socket.io v4 server
// (peer-socketio.mjs), driven by the same socket.io-client load generator in this one
// Node process.
//
//   node fanout.mjs [--clients 1000] [--messages 2000] [--window 32] [--payload 100]
//                   [--batch 100] [--queue N] [--servers portico,node]
//                   [--timeout 60] [--deadline 170] [--out results/...md]
//
// Everything binds to and connects to 127.0.0.1 only. Every phase is bounded in time;
// the whole run is killed after --deadline seconds.
import { spawn, execSync } from "node:child_process";
import { readFileSync, writeFileSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir, cpus, availableParallelism } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { createRequire } from "node:module";
import { io } from "socket.io-client";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

// ---------------------------------------------------------------- options

const DEFAULTS = {
  clients: 1000,
  messages: 2000,
  window: 32,
  payload: 100, // bytes of JSON per message argument, sequence number included
  batch: 100, // clients connecting concurrently
  queue: null, // portico [limits] outbound_queue; null = portico's default (1024)
  servers: "portico,node",
  timeout: 60, // seconds for the broadcast phase of one server
  deadline: 170, // seconds for the whole run
  out: null,
  portico: join(here, "..", "target", "release", "portico"),
};

function parseArgs(argv) {
  const opts = { ...DEFAULTS };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--help" || arg === "-h") {
      console.log(readFileSync(fileURLToPath(import.meta.url), "utf8").split("\n").slice(0, 12).join("\n"));
      process.exit(0);
    }
    const m = /^--([a-z]+)(?:=(.*))?$/.exec(arg);
    if (!m || !(m[1] in DEFAULTS)) throw new Error(`unknown argument ${arg} (see --help)`);
    const value = m[2] ?? argv[++i];
    if (value === undefined) throw new Error(`${arg} needs a value`);
    const key = m[1];
    if (["servers", "out", "portico"].includes(key)) opts[key] = value;
    else {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1) throw new Error(`--${key} must be a positive integer, got ${value}`);
      opts[key] = n;
    }
  }
  opts.servers = opts.servers.split(",").map((s) => s.trim());
  for (const s of opts.servers) if (!["portico", "node"].includes(s)) throw new Error(`unknown server ${s}`);
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
const CLK_TCK = (() => {
  try {
    return Number(execSync("getconf CLK_TCK").toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

// ---------------------------------------------------------------- process helpers

const children = new Set();
const killAll = () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
};
process.on("exit", killAll);
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(130));

const hardDeadline = setTimeout(() => {
  console.error(`\nfanout: whole-run deadline of ${opts.deadline}s reached; stopping`);
  process.exit(3);
}, opts.deadline * 1000);
hardDeadline.unref();

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts a server and resolves with {child, port} once it prints its address. */
function startServer(cmd, args, label) {
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], cwd: here });
  children.add(child);
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr = (stderr + d).slice(-4000);
  });
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`${label} did not print its address in 10s; stderr: ${stderr}`)), 10_000);
    child.on("exit", (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited (${code ?? sig}) before listening; stderr: ${stderr}`));
    });
    child.stdout.on("data", (d) => {
      out += d;
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout.removeAllListeners("data");
        child.stdout.resume();
        resolve({ child, port: Number(m[1]), stderr: () => stderr });
      }
    });
  });
}

async function stopServer(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const t = setTimeout(() => child.kill("SIGKILL"), 3000);
  await exited;
  clearTimeout(t);
  children.delete(child);
}

/** VmRSS and VmHWM of a process, in MB. */
function memOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { rss: kb("VmRSS") / 1024, hwm: kb("VmHWM") / 1024 };
}

/** utime + stime of a process, in seconds. */
function cpuOf(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // fields[0] is field 3 (state)
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

const selfCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

async function porticoMetrics(port) {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(3000) });
    const text = await res.text();
    const get = (name) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? NaN);
    return {
      slowConsumer: get("portico_slow_consumer_disconnects_total"),
      messagesOut: get("portico_messages_out_total"),
      connectionsOpen: get("portico_connections_open"),
    };
  } catch (err) {
    return { error: String(err) };
  }
}

// ---------------------------------------------------------------- one benchmark run

async function runOne(kind) {
  const { clients: C, messages: M, window: W } = opts;
  let server;
  let tmp = null;
  let label;
  if (kind === "portico") {
    tmp = mkdtempSync(join(tmpdir(), "portico-bench-"));
    const config = join(tmp, "portico.toml");
    writeFileSync(config, opts.queue ? `[limits]\noutbound_queue = ${opts.queue}\n` : "");
    label = `portico (outbound_queue ${opts.queue ?? "1024, default"})`;
    server = await startServer(opts.portico, ["serve", "--config", config, "--listen", "127.0.0.1:0"], "portico");
  } else {
    label = `node socket.io ${require("socket.io/package.json").version}`;
    server = await startServer(process.execPath, [join(here, "peer-socketio.mjs"), "0"], "node peer");
  }
  const { child, port } = server;
  const pid = child.pid;
  const url = `http://127.0.0.1:${port}`;
  const r = { kind, label, C, M, W };
  log(`\n== ${label}: pid ${pid}, ${url}`);
  await sleep(200);
  r.rssIdle = memOf(pid).rss;

  // Per-client delivery state, flat arrays for a cheap hot path.
  const received = new Int32Array(C); // deliveries, duplicates included
  const unique = new Int32Array(C);
  const dups = new Int32Array(C);
  const outOfOrder = new Int32Array(C);
  const lastSeq = new Int32Array(C).fill(-1);
  const seen = new Uint8Array(C * M);
  const disconnectReason = new Array(C).fill(null);
  const connected = new Uint8Array(C);
  const connectError = new Array(C).fill(null);
  let lastDeliveryAt = 0;
  let totalDeliveries = 0;
  let completeClients = 0;
  let lostClients = 0; // disconnected before receiving everything
  let broadcasting = false;
  let onProgress = () => {};

  const sockets = [];
  const makeClient = (i) => {
    const s = io(url, { transports: ["websocket"], forceNew: true, reconnection: false, timeout: 20_000 });
    s.on("msg", (data) => {
      const seq = data?.seq;
      totalDeliveries++;
      received[i]++;
      lastDeliveryAt = performance.now();
      if (!Number.isInteger(seq) || seq < 0 || seq >= M) {
        dups[i]++; // not one of ours: counted as a wrong delivery
        return;
      }
      if (seq < lastSeq[i]) outOfOrder[i]++;
      lastSeq[i] = seq;
      const k = i * M + seq;
      if (seen[k]) {
        dups[i]++;
        return;
      }
      seen[k] = 1;
      if (++unique[i] === M) {
        completeClients++;
        onProgress();
      }
    });
    s.on("disconnect", (reason) => {
      if (disconnectReason[i] === null) disconnectReason[i] = reason;
      if (broadcasting && unique[i] < M && connected[i] === 1) {
        connected[i] = 2;
        lostClients++;
        onProgress();
      }
    });
    return s;
  };

  // (a) connect, in batches
  const cpu0Client = selfCpu();
  const tConnect0 = performance.now();
  for (let start = 0; start < C; start += opts.batch) {
    const batch = [];
    for (let i = start; i < Math.min(C, start + opts.batch); i++) {
      const s = makeClient(i);
      sockets.push(s);
      batch.push(
        new Promise((resolve) => {
          const t = setTimeout(() => {
            connectError[i] ??= "timeout (15s)";
            resolve();
          }, 15_000);
          s.once("connect", () => {
            clearTimeout(t);
            connected[i] = 1;
            resolve();
          });
          s.once("connect_error", (err) => {
            clearTimeout(t);
            connectError[i] = err.message;
            resolve();
          });
        }),
      );
    }
    await Promise.all(batch);
  }
  r.connectSec = (performance.now() - tConnect0) / 1000;
  r.connected = connected.reduce((a, v) => a + (v === 1 ? 1 : 0), 0);
  r.connectErrors = histogram(connectError);
  log(`   connected ${r.connected}/${C} in ${r.connectSec.toFixed(2)}s`);

  // join room "bench", all at once
  const tJoin0 = performance.now();
  const joins = await Promise.all(
    sockets.map((s, i) =>
      connected[i] === 1 ? s.timeout(20_000).emitWithAck("join", "bench").then((a) => Array.isArray(a?.rooms) && a.rooms.includes("bench"), () => false) : false,
    ),
  );
  r.joinSec = (performance.now() - tJoin0) / 1000;
  r.joined = joins.filter(Boolean).length;
  for (let i = 0; i < C; i++) if (connected[i] === 1 && !joins[i]) connected[i] = 3; // connected but not in the room
  r.connectClientCpu = selfCpu() - cpu0Client;
  log(`   joined ${r.joined} in ${r.joinSec.toFixed(2)}s`);

  // the sender: its own connection, not in the room
  const sender = io(url, { transports: ["websocket"], forceNew: true, reconnection: false, timeout: 20_000 });
  await new Promise((resolve, reject) => {
    sender.once("connect", resolve);
    sender.once("connect_error", reject);
  });
  await sleep(300); // let the connect storm settle before measuring
  const memAfterConnect = memOf(pid);
  r.rssConnected = memAfterConnect.rss;

  // (b)-(e) broadcast
  const padLen = Math.max(0, opts.payload - JSON.stringify({ seq: M, pad: "" }).length);
  const pad = "x".repeat(padLen);
  r.payloadBytes = JSON.stringify({ seq: M - 1, pad }).length;
  const expectedClients = r.joined;
  let acked = 0;
  let ackErrors = 0;
  let ackedAt = 0;
  let nextSeq = 0;
  let inflight = 0;
  let maxInflight = 0;
  const done = new Promise((resolve) => {
    onProgress = () => {
      if (completeClients + lostClients >= expectedClients && acked + ackErrors >= M) resolve("complete");
    };
  });
  const timedOut = sleep(opts.timeout * 1000).then(() => "timeout");
  // Without the sender nothing more will come: stop waiting.
  const senderGone = new Promise((resolve) =>
    sender.once("disconnect", (reason) => resolve(`sender disconnected (${reason})`)),
  );

  const pump = () => {
    while (inflight < W && nextSeq < M) {
      const seq = nextSeq++;
      inflight++;
      if (inflight > maxInflight) maxInflight = inflight;
      sender.timeout(opts.timeout * 1000).emit("relay", { event: "msg", args: [{ seq, pad }], to: "bench" }, (err, ack) => {
        inflight--;
        if (err || ack?.ok !== true) ackErrors++;
        else acked++;
        if (acked + ackErrors === M) {
          ackedAt = performance.now();
          onProgress();
        }
        pump();
      });
    }
  };

  const cpu0Server = cpuOf(pid);
  const cpu0Gen = selfCpu();
  broadcasting = true;
  // clients already gone before the broadcast count as lost straight away
  for (let i = 0; i < C; i++) if (connected[i] === 1 && !sockets[i].connected) (connected[i] = 2), lostClients++;
  const t0 = performance.now();
  pump();
  const outcome = await Promise.race([done, timedOut, senderGone]);
  const tEnd = outcome === "complete" ? Math.max(lastDeliveryAt, ackedAt) : performance.now();
  broadcasting = false;
  r.outcome = outcome;
  r.serverCpu = cpuOf(pid) - cpu0Server;
  r.genCpu = selfCpu() - cpu0Gen;
  r.wallSec = (tEnd - t0) / 1000;
  r.ackSec = ackedAt ? (ackedAt - t0) / 1000 : NaN;
  r.acked = acked;
  r.ackErrors = ackErrors;
  r.maxInflight = maxInflight;
  r.deliveries = totalDeliveries;
  r.expected = expectedClients * M;
  const memEnd = memOf(pid);
  r.rssEnd = memEnd.rss;
  r.rssPeak = memEnd.hwm;

  // (f) a short grace period for late duplicates, then check every client
  await sleep(300);
  r.clientsMissing = 0;
  r.missingTotal = 0;
  r.clientsDup = 0;
  r.dupTotal = 0;
  r.outOfOrder = 0;
  r.missingGotMin = Infinity;
  r.missingGotMax = -Infinity;
  for (let i = 0; i < C; i++) {
    if (connected[i] === 0 || connected[i] === 3) continue; // never in the room: reported above
    if (unique[i] < M) {
      r.clientsMissing++;
      r.missingTotal += M - unique[i];
      r.missingGotMin = Math.min(r.missingGotMin, unique[i]);
      r.missingGotMax = Math.max(r.missingGotMax, unique[i]);
    }
    if (dups[i] > 0) {
      r.clientsDup++;
      r.dupTotal += dups[i];
    }
    r.outOfOrder += outOfOrder[i];
  }
  r.disconnects = histogram(disconnectReason);
  r.deliveredPerSec = (outcome === "complete" ? r.expected - r.missingTotal : totalDeliveries) / r.wallSec;
  if (kind === "portico") r.metrics = await porticoMetrics(port);
  log(
    `   ${outcome}: ${totalDeliveries}/${r.expected} deliveries in ${r.wallSec.toFixed(2)}s ` +
      `(${fmtInt(r.deliveredPerSec)}/s), relays acked in ${r.ackSec.toFixed(2)}s, ` +
      `missing ${r.clientsMissing} clients, dup ${r.clientsDup}, server cpu ${r.serverCpu.toFixed(2)}s, ` +
      `generator cpu ${r.genCpu.toFixed(2)}s` +
      (r.metrics ? `, slow-consumer disconnects ${r.metrics.slowConsumer}` : ""),
  );

  // tear down
  sender.disconnect();
  for (const s of sockets) s.disconnect();
  await sleep(300);
  await stopServer(child);
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  return r;
}

// ---------------------------------------------------------------- report

function histogram(values) {
  const h = {};
  for (const v of values) if (v !== null && v !== undefined) h[v] = (h[v] ?? 0) + 1;
  return h;
}
const fmtHist = (h) =>
  Object.keys(h).length ? Object.entries(h).map(([k, v]) => `${v}× ${k}`).join(", ") : "0";
const fmtInt = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "n/a");
const f = (n, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : "n/a");
function log(line) {
  console.log(line);
}

function machineInfo() {
  const sh = (cmd) => {
    try {
      return execSync(cmd, { stdio: ["ignore", "pipe", "ignore"] }).toString().trimEnd();
    } catch {
      return "n/a";
    }
  };
  let binary = "n/a";
  try {
    binary = `${opts.portico} (built ${statSync(opts.portico).mtime.toISOString()})`;
  } catch {}
  return {
    nproc: sh("nproc"),
    cpu: cpus()[0]?.model ?? "n/a",
    parallelism: availableParallelism(),
    free: sh("free -h"),
    kernel: sh("uname -sr"),
    node: process.version,
    socketio: require("socket.io/package.json").version,
    client: require("socket.io-client/package.json").version,
    rev: sh(`git -C ${JSON.stringify(here)} rev-parse --short HEAD`),
    binary,
  };
}

function table(results) {
  const cols = results.map((r) => r.label);
  const rows = [];
  const row = (name, fn) => rows.push([name, ...results.map(fn)]);
  row("clients connected / joined room", (r) => `${r.connected} / ${r.joined} of ${r.C}`);
  row("(a) connect time, all clients (s)", (r) => f(r.connectSec));
  row("    connects per second", (r) => fmtInt(r.connected / r.connectSec));
  row("    join time, all clients at once (s)", (r) => f(r.joinSec));
  row("all M relays acked after (s)", (r) => f(r.ackSec));
  row("(b) first relay → last delivery (s)", (r) => f(r.wallSec) + (r.outcome === "complete" ? "" : ` (**${r.outcome}**)`));
  row("(c) delivered messages per second", (r) => fmtInt(r.deliveredPerSec));
  row("    deliveries received / expected", (r) => `${fmtInt(r.deliveries)} / ${fmtInt(r.expected)}`);
  row("(d) server RSS idle (MB)", (r) => f(r.rssIdle, 1));
  row("    server RSS after connect + join (MB)", (r) => f(r.rssConnected, 1));
  row("    server RSS at end (MB)", (r) => f(r.rssEnd, 1));
  row("    server peak RSS, VmHWM (MB)", (r) => f(r.rssPeak, 1));
  row("(e) server CPU during broadcast (s)", (r) => `${f(r.serverCpu)} (${f((100 * r.serverCpu) / r.wallSec, 0)}% of one core)`);
  row("    server CPU per delivery (µs)", (r) => f((1e6 * r.serverCpu) / r.deliveries));
  row("    load generator CPU during broadcast (s)", (r) => `${f(r.genCpu)} (${f((100 * r.genCpu) / r.wallSec, 0)}% of one core)`);
  row("(f) clients that missed messages", (r) => (r.clientsMissing ? `**${r.clientsMissing}** (${fmtInt(r.missingTotal)} messages; each got ${r.missingGotMin === r.missingGotMax ? r.missingGotMin : `${r.missingGotMin}–${r.missingGotMax}`} of ${r.M})` : "0"));
  row("    clients that got a message twice", (r) => (r.clientsDup ? `**${r.clientsDup}** (${fmtInt(r.dupTotal)} extra)` : "0"));
  row("    out-of-order deliveries", (r) => String(r.outOfOrder));
  row("    client disconnects (reason)", (r) => fmtHist(r.disconnects));
  row("    slow-consumer disconnects (server metric)", (r) => (r.metrics ? (r.metrics.error ?? String(r.metrics.slowConsumer)) : "n/a (no limit)"));
  row("    connect errors", (r) => fmtHist(r.connectErrors));
  const header = `| metric | ${cols.join(" | ")} |\n|---|${cols.map(() => "---:").join("|")}|`;
  return header + "\n" + rows.map((cells) => `| ${cells.join(" | ")} |`).join("\n");
}

// ---------------------------------------------------------------- main

const started = new Date();
const command = `node fanout.mjs ${process.argv.slice(2).join(" ")}`.trim();
console.log(
  `fanout: ${opts.clients} clients, ${opts.messages} messages of ~${opts.payload} B, window ${opts.window}, ` +
    `connect batch ${opts.batch}, servers ${opts.servers.join(", ")}`,
);
const results = [];
for (const kind of opts.servers) {
  try {
    results.push(await runOne(kind));
  } catch (err) {
    console.error(`fanout: ${kind} failed: ${err.stack ?? err}`);
    killAll();
    process.exitCode = 1;
  }
}
if (!results.length) process.exit(1);

const m = machineInfo();
const bad = results.filter((r) => r.clientsMissing || r.clientsDup || r.outcome !== "complete");
const md = `# Fan-out: ${opts.clients} clients × ${opts.messages} messages

- Date: ${started.toISOString()}; portico rev ${m.rev}; binary ${m.binary}
- Command: \`cd bench && ${command}\`
- Parameters: ${opts.clients} clients (websocket transport, one Manager each), room "bench"; one sender relays
  ${opts.messages} messages of ${results[0].payloadBytes} B JSON (\`{seq, pad}\`) with up to ${opts.window} relays awaiting their ack;
  connect batch ${opts.batch}; portico \`outbound_queue\` ${opts.queue ?? "1024 (default)"}
- Machine: ${m.nproc} cores (${m.cpu}), ${m.kernel}, Node ${m.node}, socket.io ${m.socketio}, socket.io-client ${m.client}

\`\`\`
${m.free}
\`\`\`

${table(results)}

Notes:
- The load generator (all ${opts.clients} receiving clients and the sender) is ONE single-threaded Node process, the same for
  both servers, and it shares the ${m.nproc} cores with the server. When its CPU is near 100% of one core it is the
  bottleneck, and (b)/(c) say more about socket.io-client than about the server; compare the server CPU rows then.
- A delivery is counted when the client's \`msg\` event fires. (b) runs from the first relay to the last delivery at
  any client (or the last ack, if later); (c) is clients × messages / (b).
- Server CPU is utime+stime from /proc/PID/stat over the broadcast phase; RSS is VmRSS from /proc/PID/status
  (idle = before any client), peak is VmHWM over the server's life.
${bad.length ? `- **Incomplete delivery on: ${bad.map((r) => r.label).join(", ")}** (see (f)).\n` : ""}`;

console.log("\n" + md);
const out =
  opts.out ?? join(here, "results", `fanout-${started.toISOString().slice(0, 19).replace(/:/g, "-")}.md`);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, md);
console.log(`written to ${out}`);
process.exit(process.exitCode ?? 0);
