// Raw protocol clients for the conformance and robustness tests: a WebSocket that
// queues every frame it receives (text as string, binary as Buffer) so a test can
// await "the next frame", and small HTTP long-polling helpers. No Socket.IO or
// Engine.IO client library is involved: the tests speak the wire format themselves.
import assert from "node:assert/strict";
import WebSocket from "ws";

/** Record separator between packets in a polling payload. */
export const SEP = "\x1e";

/** The five keys of an Engine.IO open packet, sorted. */
export const OPEN_KEYS = ["maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"];

/**
 * A WebSocket whose received frames are queued. Frames are strings (text) or
 * Buffers (binary). With `autoPong`, every Engine.IO ping `2` is answered with `3`
 * (the ping frame is still queued, `nextNonPing` skips it).
 */
export class RawSocket {
  constructor(url, { autoPong = false, binaryType = "nodebuffer" } = {}) {
    this.url = url;
    this.autoPong = autoPong;
    this.frames = [];
    this.waiters = [];
    this.closedByUs = false;
    this.closeInfo = null;
    this.httpStatus = null;
    this.error = null;
    this.ws = new WebSocket(url);
    this.ws.binaryType = binaryType;
    this.opened = new Promise((resolve, reject) => {
      this.ws.once("open", () => resolve(this));
      this.ws.once("unexpected-response", (_req, res) => {
        this.httpStatus = res.statusCode;
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => {
          this.httpBody = body;
          const err = new Error(`WebSocket upgrade refused with HTTP ${res.statusCode}: ${body}`);
          err.status = res.statusCode;
          err.body = body;
          reject(err);
          // Aborts the handshake request; `ws` then emits "close", which we caused.
          this.closedByUs = true;
          this.ws.terminate();
        });
        res.on("error", () => {});
        res.resume();
      });
      this.ws.once("error", (err) => {
        this.error = err;
        reject(err);
      });
    });
    this.opened.catch(() => {});
    this.ws.on("error", (err) => (this.error ??= err));
    this.ws.on("message", (data, isBinary) => {
      const frame = isBinary ? Buffer.from(data) : data.toString();
      if (this.autoPong && frame === "2") this.ws.send("3");
      const waiter = this.waiters.shift();
      if (waiter) waiter.resolve(frame);
      else this.frames.push(frame);
    });
    this.closed = new Promise((resolve) => (this._resolveClosed = resolve));
    this.ws.on("close", (code, reason) => this._onClose(code, reason.toString()));
  }

  _onClose(code, reason) {
    if (this.closeInfo) return;
    this.closeInfo = { code, reason, byServer: !this.closedByUs };
    this._resolveClosed(this.closeInfo);
    for (const waiter of this.waiters.splice(0)) {
      waiter.reject(new Error(`WebSocket closed (code ${code}${reason ? `, "${reason}"` : ""}) while waiting for a frame`));
    }
  }

  /** Opens `url` and resolves once the WebSocket is open. */
  static async open(url, options) {
    const socket = new RawSocket(url, options);
    await socket.opened;
    return socket;
  }

  /** True once the connection has closed, for whatever reason. */
  get isClosed() {
    return this.closeInfo !== null;
  }

  send(data) {
    this.ws.send(data);
  }

  /** The next frame (pings included). Rejects on timeout or when the socket closes. */
  next(ms = 2000) {
    if (this.frames.length) return Promise.resolve(this.frames.shift());
    if (this.closeInfo) return Promise.reject(new Error(`WebSocket already closed (code ${this.closeInfo.code})`));
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no frame within ${ms} ms`));
      }, ms);
      this.waiters.push(waiter);
    });
  }

  /** The next frame that is not an Engine.IO ping `2`. */
  async nextNonPing(ms = 2000) {
    const deadline = Date.now() + ms;
    for (;;) {
      const frame = await this.next(Math.max(1, deadline - Date.now()));
      if (frame !== "2") return frame;
    }
  }

  /** The next `n` non-ping frames. */
  async nextFrames(n, ms = 2000) {
    const out = [];
    const deadline = Date.now() + ms;
    for (let i = 0; i < n; i++) out.push(await this.nextNonPing(Math.max(1, deadline - Date.now())));
    return out;
  }

  /**
   * Resolves with the close info once the server closes the connection; rejects if it
   * is still open after `ms`. Frames received meanwhile stay queued.
   */
  async waitClosed(ms = 2000) {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the server did not close the WebSocket within ${ms} ms`)), ms);
    });
    try {
      return await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes from our side (idempotent); resolves once closed. */
  async close() {
    if (this.closeInfo) return;
    this.closedByUs = true;
    if (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN) {
      try {
        this.ws.close();
      } catch {
        this.ws.terminate();
      }
    }
    const timer = setTimeout(() => this.ws.terminate(), 1000);
    await this.closed;
    clearTimeout(timer);
  }
}

/**
 * Tries a WebSocket connection that the server should refuse. Resolves with
 * `{ opened, status, body, frames, closeInfo }`: `opened` false with `status` when the
 * upgrade was refused over HTTP, otherwise what arrived before the server closed it
 * (it is left open only if the server never closes it within `ms`).
 */
export async function tryRefusedWebSocket(url, ms = 2000) {
  const socket = new RawSocket(url);
  let opened = true;
  try {
    await socket.opened;
  } catch {
    opened = false;
  }
  let serverClosed = !opened;
  if (opened) {
    try {
      await socket.waitClosed(ms);
      serverClosed = true;
    } catch {
      serverClosed = false;
    }
  }
  const frames = socket.frames.slice();
  await socket.close();
  return { opened, serverClosed, status: socket.httpStatus, body: socket.httpBody, frames, error: socket.error };
}

/** Asserts a WebSocket to `url` is refused or closed without an Engine.IO open packet. */
export async function assertWebSocketRefused(url) {
  const r = await tryRefusedWebSocket(url);
  assert.ok(
    !r.frames.some((f) => typeof f === "string" && f.startsWith("0")),
    `the server sent an open packet on ${url}: ${JSON.stringify(r.frames)}`,
  );
  assert.ok(r.serverClosed, `the server kept ${url} open`);
  if (!r.opened && r.status !== null) {
    assert.ok(r.status >= 400 && r.status < 500, `expected a 4xx refusal, got HTTP ${r.status}`);
  }
  return r;
}

/** Parses and checks an Engine.IO open packet; returns its JSON. */
export function assertOpenPacket(text, { upgrades, pingInterval = 300, pingTimeout = 200, maxPayload = 1000000 }) {
  assert.equal(typeof text, "string", "the open packet must be a text frame");
  assert.equal(text[0], "0", `expected an open packet, got ${JSON.stringify(text)}`);
  const open = JSON.parse(text.slice(1));
  assert.deepEqual(Object.keys(open).sort(), OPEN_KEYS);
  assert.equal(typeof open.sid, "string");
  assert.ok(open.sid.length > 0);
  assert.deepEqual(open.upgrades, upgrades);
  assert.equal(open.pingInterval, pingInterval);
  assert.equal(open.pingTimeout, pingTimeout);
  assert.equal(open.maxPayload, maxPayload);
  return open;
}

/**
 * One HTTP request; never throws on a status. Resolves with `{status, body, headers}`,
 * or `{status: null, error}` when the connection was aborted.
 */
export async function request(url, { method = "GET", body, headers, timeout = 5000 } = {}) {
  try {
    const res = await fetch(url, { method, body, headers, signal: AbortSignal.timeout(timeout) });
    const text = await res.text();
    return { status: res.status, body: text, headers: res.headers };
  } catch (error) {
    // Our own timeout is a failure to answer, never "the connection was aborted".
    if (error.name === "TimeoutError") {
      throw new Error(`${method} ${url}: no answer within ${timeout} ms`);
    }
    return { status: null, body: null, error };
  }
}

/** Opens a long-polling session on `base` (e.g. `http://h:p/engine.io/`); returns `{sid, open, poll(), post()}`. */
export async function pollingSession(base) {
  const res = await request(`${base}?EIO=4&transport=polling`);
  assert.equal(res.status, 200, `handshake failed: ${res.status} ${res.body}`);
  const open = JSON.parse(res.body.slice(1));
  const sid = open.sid;
  const url = `${base}?EIO=4&transport=polling&sid=${encodeURIComponent(sid)}`;
  return {
    sid,
    open,
    url,
    handshake: res,
    poll: (extra = "") => request(url + extra),
    post: (body, extra = "") =>
      request(url + extra, { method: "POST", body, headers: { "content-type": "text/plain;charset=UTF-8" } }),
  };
}

/** Asserts `frame` is a binary frame holding exactly `bytes`. */
export function assertBinary(frame, bytes) {
  assert.ok(Buffer.isBuffer(frame), `expected a binary frame, got ${JSON.stringify(frame)}`);
  assert.deepEqual([...frame], bytes);
}

/** Asserts an error response with the engine.io JSON body `{code, message}`. */
export function assertErrorBody(res, status, code, message) {
  assert.equal(res.status, status, `expected HTTP ${status}, got ${res.status} ${res.body}`);
  assert.deepEqual(JSON.parse(res.body), { code, message });
}
