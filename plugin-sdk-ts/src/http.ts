/** What an HTTP route handler gets and returns. */
import { Server, Store, Logger, readConfig } from "./ctx.js";
import type { Host } from "./host.js";

/** A request, its body read whole. */
export interface HttpRequest {
  /** `GET`, `POST`, … */
  method: string;
  /** Like `/notifications/send`. */
  path: string;
  /** The query, parsed. */
  query: Record<string, string>;
  /** Header names in lower case (a repeated one: the last). */
  headers: Record<string, string>;
  /** The raw body. */
  body: Uint8Array;
  /** The body parsed as JSON (`undefined` when empty or not JSON). */
  json: unknown;
}

/** An answer. */
export interface HttpResponse {
  status: number;
  headers?: Record<string, string>;
  /** A string or bytes are sent as they are; anything else as JSON. */
  body?: unknown;
}

/** An HTTP handler's reach: emits to any namespace, the store, the log, its config. */
export class HttpCtx {
  constructor(private readonly host: Host) {}

  /** Namespace `namespace` (`/` by default, as `io.emit` has it). */
  of(namespace: string): Server {
    return new Server(this.host, namespace);
  }

  /** The default namespace `/`. */
  get server(): Server {
    return new Server(this.host, "/");
  }

  /** The store. */
  get store(): Store {
    return new Store(this.host);
  }

  /** The gateway's log. */
  get logger(): Logger {
    return new Logger(this.host);
  }

  /** The plugin's configuration. */
  config<T = Record<string, unknown>>(): T {
    return readConfig<T>(this.host);
  }
}

/** Builds the `HttpResponse` marker check: whether a returned value is one. */
export function isResponse(value: unknown): value is HttpResponse {
  return (
    value !== null &&
    typeof value === "object" &&
    typeof (value as { status?: unknown }).status === "number" &&
    Object.keys(value).every((k) => k === "status" || k === "headers" || k === "body")
  );
}
