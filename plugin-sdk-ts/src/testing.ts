/**
 * Runs a plugin's handlers under Node, without wasm or a gateway (as `MockHost` does for
 * Rust plugins): a fake host with an in-memory store and presence that records what
 * each call emits, joins, leaves and logs. As in the gateway, a call that throws
 * applies none of its effects.
 *
 * ```ts
 * const t = new PluginTest(chat);
 * const alice = t.socket({ user: { sub: 1, username: "alice" } });
 * const { ack, emits } = t.event(alice, "join_room", { roomId: "general" });
 * ```
 */
import type { Host, SocketHandle, Level } from "./host.js";
import { decode, encode } from "./payload.js";
import { exportsFor, type Exports } from "./runtime.js";
import type { Plugin, Violation } from "./plugins.js";
import type { Target } from "portico:plugin/sockets@0.2.0";
import type { OnlineUser } from "portico:plugin/presence@0.2.0";
import type { Error as WitError } from "portico:plugin/types@0.2.0";

/** One emit a call made, its payload decoded. */
export interface Emitted {
  namespace: string | undefined;
  event: string;
  data: unknown;
  to: Target;
  exceptRooms: string[];
  exceptSender: boolean;
}

/** What one call did. */
export interface Effects {
  emits: Emitted[];
  joins: { room: string; socket: string | undefined }[];
  leaves: { room: string; socket: string | undefined }[];
  disconnects: (string | undefined)[];
}

const none = (): Effects => ({ emits: [], joins: [], leaves: [], disconnects: [] });

/** A fake gateway. */
export class MockHost implements Host {
  /** What the current call has done so far. */
  pending: Effects = none();
  /** Log lines, every call's. */
  readonly logs: { level: Level; message: string }[] = [];
  /** The store's keys. */
  readonly kv = new Map<string, string>();
  /** Room histories, oldest first. */
  readonly histories = new Map<string, string[]>();
  /** Who is online, by namespace (`/` for none). */
  readonly online = new Map<string, OnlineUser[]>();
  /** Socket ids by namespace and user id. */
  readonly userSocketIds = new Map<string, string[]>();

  constructor(private configValue: unknown = {}) {}

  /** Sets the plugin's configuration. */
  setConfig(value: unknown): void {
    this.configValue = value;
  }

  readonly log = { log: (level: Level, message: string) => void this.logs.push({ level, message }) };
  readonly config = { get: () => JSON.stringify(this.configValue) };
  readonly sockets = {
    emit: (namespace: string | undefined, event: string, payload: ReturnType<typeof encode>, to: Target, exceptRooms: string[], exceptSender: boolean) =>
      void this.pending.emits.push({ namespace, event, data: decode(payload), to, exceptRooms, exceptSender }),
    join: (room: string, socket: string | undefined) => void this.pending.joins.push({ room, socket }),
    leave: (room: string, socket: string | undefined) => void this.pending.leaves.push({ room, socket }),
    disconnect: (socket: string | undefined) => void this.pending.disconnects.push(socket),
  };
  readonly store = {
    kvGet: (key: string) => this.kv.get(key),
    kvSet: (key: string, value: string, _ttlMs: bigint | undefined) => void this.kv.set(key, value),
    kvDelete: (key: string) => this.kv.delete(key),
    kvIncr: (key: string, delta: bigint) => {
      const next = BigInt(this.kv.get(key) ?? "0") + delta;
      this.kv.set(key, next.toString());
      return next;
    },
    historyAppend: (room: string, entry: string, maxLen: number) => {
      const list = [...(this.histories.get(room) ?? []), entry];
      this.histories.set(room, list.slice(Math.max(0, list.length - maxLen)));
    },
    historyRange: (room: string, limit: number) => {
      const list = this.histories.get(room) ?? [];
      return list.slice(Math.max(0, list.length - limit));
    },
  };
  readonly presence = {
    onlineUsers: (namespace: string | undefined) => this.online.get(namespace ?? "/") ?? [],
    userSockets: (namespace: string | undefined, userId: string) => this.userSocketIds.get(`${namespace ?? "/"}#${userId}`) ?? [],
    isOnline: (namespace: string | undefined, userId: string) =>
      (this.online.get(namespace ?? "/") ?? []).some((u) => u.userId === userId),
  };
}

/** What a fake socket is. */
export interface SocketOptions {
  id?: string;
  namespace?: string;
  /** The verified token's claims. */
  user?: Record<string, unknown>;
  auth?: Record<string, unknown>;
  headers?: Record<string, string>;
  query?: string;
  /** Its rooms besides its own id's. */
  rooms?: string[];
}

let sockets = 0;

/** A fake socket handle. */
export function socket(options: SocketOptions = {}): SocketHandle {
  const id = options.id ?? `socket-${++sockets}`;
  return {
    id: () => id,
    namespace: () => options.namespace ?? "/",
    userJson: () => (options.user === undefined ? undefined : JSON.stringify(options.user)),
    authJson: () => JSON.stringify(options.auth ?? {}),
    headers: () => Object.entries(options.headers ?? {}),
    query: () => options.query ?? "",
    rooms: () => [id, ...(options.rooms ?? [])],
  };
}

/** A call's outcome: its answer or its error, and what it did (nothing when it failed). */
export interface Outcome<T> extends Effects {
  result?: T;
  error?: WitError;
  violations?: Violation[];
}

/** A plugin bound to a `MockHost`, called as the gateway calls it. */
export class PluginTest {
  readonly host: MockHost;
  readonly exports: Exports;

  constructor(plugin: Plugin, host: MockHost = new MockHost()) {
    this.host = host;
    this.exports = exportsFor(plugin, host);
  }

  /** A fake socket. */
  socket(options: SocketOptions = {}): SocketHandle {
    return socket(options);
  }

  private call<T>(run: () => T): Outcome<T> {
    this.host.pending = none();
    try {
      const result = run();
      return { result, ...this.host.pending };
    } catch (thrown) {
      // As the gateway: a failed call applies nothing.
      if (Array.isArray(thrown)) return { violations: thrown as Violation[], ...none() };
      return { error: thrown as WitError, ...none() };
    } finally {
      this.host.pending = none();
    }
  }

  /** An event: `ack` is the decoded answer (`undefined`: none). */
  event(client: SocketHandle, event: string, data?: unknown): Outcome<unknown> & { ack?: unknown } {
    const handler = this.need("handler");
    const outcome = this.call(() => handler.onEvent(client, event, encode(data)));
    return { ...outcome, ack: outcome.result === undefined ? undefined : decode(outcome.result as ReturnType<typeof encode>) };
  }

  /** A connection. */
  connect(client: SocketHandle): Outcome<void> {
    const handler = this.need("handler");
    return this.call(() => handler.onConnect(client));
  }

  /** A disconnection. */
  disconnect(client: SocketHandle, reason = "client namespace disconnect"): Outcome<void> {
    const handler = this.need("handler");
    return this.call(() => handler.onDisconnect(client, reason));
  }

  /** A validation: `result` is what the handler would get. */
  validate(client: SocketHandle, event: string, data?: unknown): Outcome<unknown> {
    const validator = this.need("validator");
    const outcome = this.call(() => validator.validate(client, event, encode(data)));
    return { ...outcome, result: outcome.result === undefined ? undefined : decode(outcome.result as ReturnType<typeof encode>) };
  }

  /** A guard's decision: no `error` means allowed. */
  authorize(client: SocketHandle, event: string, data?: unknown): Outcome<void> {
    const guard = this.need("guard");
    return this.call(() => guard.authorize(client, event, JSON.stringify(data ?? null)));
  }

  /** A filter's answer for `error`: `result` is the client's `error` event payload. */
  catch(client: SocketHandle, event: string, data: unknown, error: { code: string; message: string; data?: unknown }): Outcome<unknown> {
    const filter = this.need("filter");
    const wit: WitError = { code: error.code, message: error.message, dataJson: error.data === undefined ? undefined : JSON.stringify(error.data) };
    const outcome = this.call(() => filter.catch(client, event, encode(data), wit));
    return { ...outcome, result: outcome.result === undefined ? undefined : JSON.parse(outcome.result as string) };
  }

  /** An HTTP request: `result` is the response, its body as text. */
  http(request: { method: string; path: string; query?: string; headers?: Record<string, string>; body?: unknown }) {
    const http = this.need("httpHandler");
    const body =
      request.body === undefined
        ? new Uint8Array()
        : new TextEncoder().encode(typeof request.body === "string" ? request.body : JSON.stringify(request.body));
    const outcome = this.call(() =>
      http.handle({ method: request.method, path: request.path, query: request.query ?? "", headers: Object.entries(request.headers ?? {}), body }),
    );
    const response = outcome.result;
    return {
      ...outcome,
      status: response?.status,
      headers: Object.fromEntries(response?.headers ?? []),
      text: response === undefined ? undefined : new TextDecoder().decode(response.body),
    };
  }

  private need<K extends keyof Exports>(name: K): NonNullable<Exports[K]> {
    const found = this.exports[name];
    if (found === undefined) throw new Error(`this plugin exports no ${String(name)}`);
    return found as NonNullable<Exports[K]>;
  }
}
