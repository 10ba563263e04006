// The unmodified Socket.IO Admin UI in a real browser (headless Chromium through
// playwright-core) against the real binary: a wrong password is refused, the right
// one logs in, the node's statistics fill the dashboard and the servers page, a test
// client appears in the sockets list, and the page's disconnect
// button disconnects it (`io server disconnect`). Screenshots of each step are
// written to target/e2e-screenshots/ for a person to look at.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { io } from "socket.io-client";
import { chromium } from "playwright-core";
import { startServer, once } from "./lib/server.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const UI_DIR = process.env.PORTICO_ADMIN_UI_DIR ?? resolve(here, "../target/admin-ui");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const PLUGINS = process.env.PORTICO_PLUGINS_DIR ?? resolve(here, "../target/plugins");
const SHOTS = resolve(here, "../target/e2e-screenshots");
// bcrypt (cost 8) of "portico-admin".
const HASH = "$2a$08$fdv.e9zeiZmR2ipvF7xMQOm0TBIsymjYBLJTRSMG9NmxS2M8dp5Qe";

describe("the Admin UI in Chromium", () => {
  let server, browser, page, user, root;
  const requests = [];
  before(async () => {
    root = mkdtempSync(join(tmpdir(), "portico-e2e-admin-"));
    mkdirSync(join(root, "plugins"));
    copyFileSync(join(PLUGINS, "echo.wasm"), join(root, "plugins", "echo.wasm"));
    server = await startServer(`
[admin_ui]
password_hash = "${HASH}"
ui_dir = ${JSON.stringify(UI_DIR)}
server_id = "browser-node"

[plugins]
dir = ${JSON.stringify(join(root, "plugins"))}

[namespaces."/"]
handler = "echo"

[namespaces."/p"]
plugins = ["echo"]
`);
    mkdirSync(SHOTS, { recursive: true });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] });
    page = await browser.newPage();
    // Every request the page makes, to prove none leaves the machine.
    page.on("request", (req) => requests.push(req.url()));
  });
  after(async () => {
    user?.close();
    await browser?.close();
    await server?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  const shot = (name) => page.screenshot({ path: join(SHOTS, `admin-${name}.png`), fullPage: true });

  async function logIn(password) {
    await page.getByLabel("Server URL").fill(server.url);
    await page.getByLabel("Username").fill("admin");
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Connect" }).click();
  }

  it("refuses a wrong password on the page", async () => {
    await page.goto(`${server.url}/admin/`);
    await logIn("wrong");
    await page.getByText("Invalid credentials").waitFor({ timeout: 10_000 });
    await shot("1-invalid-credentials");
  });

  it("logs in, lists a client's socket, and disconnects it from the page", async () => {
    user = io(server.url, { transports: ["websocket"], reconnection: false });
    await once(user, "connect");
    const id = user.id;
    await logIn("portico-admin");
    // The modal closes once connected; the dashboard shows this node.
    await page.getByRole("dialog").waitFor({ state: "hidden", timeout: 10_000 });
    // The node's server_stats fill the dashboard's namespaces card.
    await page.getByText("/admin", { exact: true }).first().waitFor({ timeout: 10_000 });
    await shot("2-dashboard");
    await page.locator("nav").getByRole("link", { name: "Servers" }).click();
    await page.getByText("browser-node").first().waitFor({ timeout: 10_000 });
    await shot("2b-servers");

    await page.locator("nav").getByRole("link", { name: "Sockets" }).click();
    const row = page.locator("tbody tr").filter({ hasText: id });
    await row.waitFor({ timeout: 10_000 });
    await shot("3-sockets");

    const reason = once(user, "disconnect", 10_000);
    await row.getByRole("button").click();
    // socket.io-client passes (reason, details).
    assert.equal((await reason)[0], "io server disconnect");
    // The click also opens the socket's details (the row's own click); back to the
    // list, where it is gone.
    await page.locator("nav").getByRole("link", { name: "Sockets" }).click();
    await page.getByText("No data available").waitFor({ timeout: 10_000 });
    // The details page fades out: its tables stay in the document a moment.
    await page.locator("tbody tr").filter({ hasText: id }).first().waitFor({ state: "detached", timeout: 10_000 });
    await shot("4-disconnected");

    const outside = requests.filter((url) => !url.startsWith(server.url) && !url.startsWith("data:"));
    assert.deepEqual(outside, [], "the page loads nothing from the internet");
  });

  it("shows plugin reloads, a rejected version with its error, on Portico's plugins page", async () => {
    const context = await browser.newContext({ httpCredentials: { username: "admin", password: "portico-admin" } });
    const plugins = await context.newPage();
    try {
      const refused = await fetch(`${server.url}/admin/plugins.json`);
      assert.equal(refused.status, 401);
      assert.match(refused.headers.get("www-authenticate"), /^Basic realm=/);

      await plugins.goto(`${server.url}/admin/plugins`);
      const reloads = plugins.locator("#reloads tr.loaded").filter({ hasText: "echo" });
      await reloads.first().waitFor({ timeout: 10_000 });
      assert.equal(await reloads.count(), 1);
      await plugins.locator("#serving tr").filter({ hasText: "handler" }).first().waitFor();

      // A new version (another component under the same name), then a broken one.
      const dir = join(root, "plugins");
      copyFileSync(join(PLUGINS, "bench.wasm"), join(dir, ".echo.tmp"));
      renameSync(join(dir, ".echo.tmp"), join(dir, "echo.wasm"));
      await waitUntil(async () => (await reloads.count()) === 2, "the second version on the page (it refreshes every 2 s)");
      writeFileSync(join(dir, ".echo.tmp"), "not a component");
      renameSync(join(dir, ".echo.tmp"), join(dir, "echo.wasm"));
      const rejected = plugins.locator("#reloads tr.rejected").filter({ hasText: "echo" });
      await waitUntil(async () => (await rejected.count()) === 1, "the rejected version");
      assert.match(await rejected.first().innerText(), /rejected/);
      await plugins.screenshot({ path: join(SHOTS, "admin-5-plugins.png"), fullPage: true });

      const json = await (await context.request.get(`${server.url}/admin/plugins.json`)).json();
      assert.deepEqual(json.reloads.slice(0, 3).map((r) => r.outcome), ["rejected", "loaded", "loaded"]);
      assert.equal(json.plugins[0].plugin, "echo");
      assert.equal(json.plugins[0].digest, json.reloads[1].digest, "the last good version keeps serving");
    } finally {
      await context.close();
    }
  });
});

async function waitUntil(check, what, ms = 10_000) {
  const deadline = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
