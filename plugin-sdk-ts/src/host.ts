/**
 * What the gateway gives a plugin: the WIT imports of its world, as the generated
 * entry module hands them over (in wasm), or as `testing`'s `MockHost` fakes them
 * (under Node). The SDK reaches the gateway only through this, so a plugin's code is
 * the same in both.
 */
import type * as Config from "portico:plugin/config@0.2.0";
import type * as Log from "portico:plugin/log@0.2.0";
import type * as Presence from "portico:plugin/presence@0.2.0";
import type * as Sockets from "portico:plugin/sockets@0.2.0";
import type * as Store from "portico:plugin/store@0.2.0";
import type { Socket } from "portico:plugin/socket@0.2.0";

/** The imports every world has. */
export interface BaseHost {
  log: typeof Log;
  config: typeof Config;
}

/** A handler's or an HTTP plugin's imports: it may emit, store and read presence. */
export interface Host extends BaseHost {
  sockets: typeof Sockets;
  store: typeof Store;
  presence: typeof Presence;
}

/** The socket a call is about, as the WIT resource offers it. */
export type SocketHandle = Pick<Socket, "id" | "namespace" | "userJson" | "authJson" | "headers" | "query" | "rooms">;

/** The `level` enum of the log interface. */
export type Level = "trace" | "debug" | "info" | "warn" | "error";
