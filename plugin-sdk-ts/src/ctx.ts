/**
 * What a handler gets: `Ctx`, the socket that sent the event with NestJS's and
 * Socket.IO's vocabulary (`client.join`, `client.to(room).emit`, `server.to(room).emit`,
 * `client.handshake`, `client.data.user`), and the store and presence.
 *
 * Emits and room changes are an outbox, applied when the handler returns without
 * throwing: a handler that fails emits nothing.
 */
import { encode } from "./payload.js";
import type { BaseHost, Host, Level, SocketHandle } from "./host.js";
import type { Target } from "portico:plugin/sockets@0.2.0";
import type { OnlineUser } from "portico:plugin/presence@0.2.0";

/** A verified token's claims. */
export type Claims = { sub?: string | number; username?: string; [claim: string]: unknown };

/** Logging through the gateway's log, tagged with the plugin's name. */
export class Logger {
  constructor(private readonly host: BaseHost) {}
  /** Writes `message` at `level`. */
  write(level: Level, message: string): void {
    this.host.log.log(level, message);
  }
  /** NestJS's `logger.log`: info. */
  log(message: string): void {
    this.write("info", message);
  }
  /** Debug. */
  debug(message: string): void {
    this.write("debug", message);
  }
  /** Warn. */
  warn(message: string): void {
    this.write("warn", message);
  }
  /** Error. */
  error(message: string): void {
    this.write("error", message);
  }
}

/** Reads the plugin's configuration (`{}` when none was given). */
export function readConfig<T>(host: BaseHost): T {
  return JSON.parse(host.config.get()) as T;
}

/** A room, some rooms, or none (Socket.IO rooms may be numbers too: they are names). */
export type Rooms = string | number | readonly (string | number)[] | undefined | null;

function names(room: Rooms): string[] {
  if (room === undefined || room === null) return [];
  return (Array.isArray(room) ? room : [room]).map(String);
}

/**
 * An emit being addressed: rooms to send to (none: everyone), rooms whose members
 * are left out, and whether the sender is. Each step returns a new one, as
 * Socket.IO's `BroadcastOperator` does.
 */
export class Emitter {
  constructor(
    private readonly host: Host,
    private readonly namespace: string | undefined,
    private readonly rooms: readonly string[] = [],
    private readonly exceptRooms: readonly string[] = [],
    private readonly exceptSender = false,
    private readonly nobody = false,
  ) {}

  /**
   * Adds rooms to send to (a socket id is a room; so is `user:<sub>`). As in
   * Socket.IO, `to(undefined)` is a room nobody is in.
   */
  to(room: Rooms): Emitter {
    return new Emitter(
      this.host,
      this.namespace,
      [...this.rooms, ...names(room)],
      this.exceptRooms,
      this.exceptSender,
      this.nobody || room === undefined || room === null,
    );
  }

  /** Socket.IO's `in`, the same as `to`. */
  in(room: Rooms): Emitter {
    return this.to(room);
  }

  /** Leaves the members of `room` out. */
  except(room: Rooms): Emitter {
    return new Emitter(this.host, this.namespace, this.rooms, [...this.exceptRooms, ...names(room)], this.exceptSender, this.nobody);
  }

  /** Sends `event` with `data` (one value; binary as `Uint8Array`). */
  emit(event: string, data?: unknown): true {
    if (this.nobody) return true;
    const target: Target = this.rooms.length === 0 ? { tag: "all" } : { tag: "rooms", val: [...this.rooms] };
    this.host.sockets.emit(this.namespace, event, encode(data), target, [...this.exceptRooms], this.exceptSender);
    return true;
  }

  /** Who is online in this emitter's namespace. */
  get presence(): Presence {
    return new Presence(this.host, this.namespace);
  }
}

/** The namespace side, NestJS's `@WebSocketServer() server`: emits include the sender. */
export class Server extends Emitter {
  constructor(
    private readonly serverHost: Host,
    namespace?: string,
  ) {
    super(serverHost, namespace);
  }

  /** Another namespace of the gateway (`io.of('/admin')`). */
  of(namespace: string): Server {
    return new Server(this.serverHost, namespace);
  }
}

/** Who is online: users with a verified identity, counted once, on every node. */
export class Presence {
  constructor(
    private readonly host: Host,
    private readonly namespace: string | undefined,
  ) {}

  /** Every online user, with their socket count. */
  onlineUsers(): OnlineUser[] {
    return this.host.presence.onlineUsers(this.namespace);
  }

  /** A user's socket ids (empty when offline). */
  userSockets(userId: string | number): string[] {
    return this.host.presence.userSockets(this.namespace, String(userId));
  }

  /** Whether a user has a socket here. */
  isOnline(userId: string | number): boolean {
    return this.host.presence.isOnline(this.namespace, String(userId));
  }
}

/** The gateway's store, scoped to the plugin: in memory on one node, Redis in a cluster. */
export class Store {
  constructor(private readonly host: Host) {}

  /** The value of `key`, if set and not expired. */
  get(key: string): string | undefined {
    return this.host.store.kvGet(key);
  }

  /** Sets `key`, expiring after `ttlMs` when given. */
  set(key: string, value: string, ttlMs?: number): void {
    this.host.store.kvSet(key, value, ttlMs === undefined ? undefined : BigInt(ttlMs));
  }

  /** Deletes `key`; true if it existed. */
  delete(key: string): boolean {
    return this.host.store.kvDelete(key);
  }

  /** Adds `delta` (1 by default) to the integer at `key` and returns the new value. */
  incr(key: string, delta = 1): number {
    return Number(this.host.store.kvIncr(key, BigInt(delta)));
  }

  /** Appends `entry` to a room's history, keeping the newest `maxLen`. */
  append(room: string, entry: unknown, maxLen: number): void {
    this.host.store.historyAppend(room, JSON.stringify(entry), maxLen);
  }

  /** The newest `limit` entries of a room's history, oldest first. */
  history<T = unknown>(room: string, limit: number): T[] {
    return this.host.store.historyRange(room, limit).map((entry) => JSON.parse(entry) as T);
  }
}

/** Socket.IO's `socket.handshake`, as far as the gateway keeps it. */
export interface Handshake {
  /** The CONNECT packet's `auth` payload. */
  auth: Record<string, unknown>;
  /** The opening request's headers, names in lower case (a repeated one: the last). */
  headers: Record<string, string>;
  /** Its query, parsed. */
  query: Record<string, string>;
}

/** The socket a validator, guard or filter call is about: it reads, never emits. */
export class SocketView<User = Claims> {
  private cachedUser: User | undefined | null = null;

  constructor(
    protected readonly baseHost: BaseHost,
    protected readonly handle: SocketHandle,
  ) {}

  /** Its id; it is also a room. */
  get id(): string {
    return this.handle.id();
  }

  /** Its namespace, like `/chat`. */
  get namespace(): string {
    return this.handle.namespace();
  }

  /** The verified token's claims, when the connection authenticated. */
  get user(): User | undefined {
    if (this.cachedUser === null) {
      const json = this.handle.userJson();
      this.cachedUser = json === undefined ? undefined : (JSON.parse(json) as User);
    }
    return this.cachedUser;
  }

  /** NestJS's `client.data`: the verified user is `data.user`, as a WsJwtGuard puts it. */
  get data(): { user?: User } {
    return { user: this.user };
  }

  /** The handshake: `auth`, `headers`, `query`. */
  get handshake(): Handshake {
    const params = new URLSearchParams(this.handle.query());
    return {
      auth: JSON.parse(this.handle.authJson()) as Record<string, unknown>,
      headers: Object.fromEntries(this.handle.headers()),
      query: Object.fromEntries(params.entries()),
    };
  }

  /** The rooms it is in on this node, as they were when the call began. */
  get rooms(): Set<string> {
    return new Set(this.handle.rooms());
  }

  /** The plugin's configuration. */
  config<T = Record<string, unknown>>(): T {
    return readConfig<T>(this.baseHost);
  }

  /** The gateway's log. */
  get logger(): Logger {
    return new Logger(this.baseHost);
  }
}

/** The socket an event or a connection is about, NestJS's `@ConnectedSocket() client`. */
export class Ctx<User = Claims> extends SocketView<User> {
  constructor(
    private readonly host: Host,
    handle: SocketHandle,
  ) {
    super(host, handle);
  }

  /** Sends `event` to this socket. */
  emit(event: string, data?: unknown): true {
    this.host.sockets.emit(undefined, event, encode(data), { tag: "socket", val: this.id }, [], false);
    return true;
  }

  /** `client.to(room)`: the room's members but this socket. */
  to(room: Rooms): Emitter {
    return new Emitter(this.host, undefined, [], [], true).to(room);
  }

  /** `client.broadcast`: every socket of the namespace but this one. */
  get broadcast(): Emitter {
    return new Emitter(this.host, undefined, [], [], true);
  }

  /** `server`: the namespace, emits including this socket. */
  get server(): Server {
    return new Server(this.host);
  }

  /** Joins `room` (applied when the handler returns). */
  join(room: Rooms): void {
    for (const r of names(room)) this.host.sockets.join(r, undefined);
  }

  /** Leaves `room`. */
  leave(room: Rooms): void {
    for (const r of names(room)) this.host.sockets.leave(r, undefined);
  }

  /** Disconnects this socket from the namespace. */
  disconnect(): void {
    this.host.sockets.disconnect(undefined);
  }

  /** The store. */
  get store(): Store {
    return new Store(this.host);
  }

  /** Who is online in this namespace. */
  get presence(): Presence {
    return new Presence(this.host, undefined);
  }
}
