/**
 * Binds a plugin to its world's WIT exports. The entry module `portico-plugin build`
 * generates imports the world's interfaces and calls `exportsFor`; tests call it
 * with a `MockHost`. Every export catches what the plugin throws and turns it into the
 * WIT's error (a stray exception would otherwise trap the call).
 */
import { Ctx, Server, SocketView } from "./ctx.js";
import { HttpException, toWitError } from "./errors.js";
import { HttpCtx, isResponse, type HttpRequest } from "./http.js";
import type { BaseHost, Host, SocketHandle } from "./host.js";
import { decode, encode, type Payload } from "./payload.js";
import { ValidationFailed, type ControllerPlugin, type FilterPlugin, type GatewayPlugin, type GuardPlugin, type Plugin, type ValidatorPlugin } from "./plugins.js";
import type { Error as WitError, Violation } from "portico:plugin/types@0.2.0";
import type { Request as WitRequest, Response as WitResponse } from "portico:plugin/http-handler@0.2.0";

/** The `handler` interface's functions. */
export interface HandlerExports {
  onConnect(socket: SocketHandle): void;
  onEvent(socket: SocketHandle, event: string, payload: Payload): Payload | undefined;
  onDisconnect(socket: SocketHandle, reason: string): void;
  onServerEvent(namespace: string, event: string, args: Payload): Payload | undefined;
}

/** What a world's component exports, by interface name. */
export interface Exports {
  handler?: HandlerExports;
  validator?: { validate(socket: SocketHandle, event: string, payload: Payload): Payload };
  guard?: { authorize(socket: SocketHandle, event: string, payloadJson: string): void };
  filter?: { catch(socket: SocketHandle, event: string, payload: Payload, error: WitError): string | undefined };
  httpHandler?: { handle(request: WitRequest): WitResponse };
}

/** The exports of `plugin`, calling the gateway through `host`. */
export function exportsFor(plugin: Plugin, host: BaseHost | Host): Exports {
  switch (plugin.kind) {
    case "handler":
      return { handler: handlerExports(plugin, host as Host) };
    case "validator":
      return { validator: validatorExports(plugin, host) };
    case "guard":
      return { guard: guardExports(plugin, host) };
    case "filter":
      return { filter: filterExports(plugin, host) };
    case "http":
      return { httpHandler: httpExports(plugin, host as Host) };
  }
}

function logError(host: BaseHost): (message: string) => void {
  return (message) => host.log.log("error", message);
}

/** Throws the WIT error for `thrown`: what a `result` export's error is in componentize-js. */
function fail(thrown: unknown, host: BaseHost): never {
  throw toWitError(thrown, logError(host));
}

/** Host calls are synchronous, so a handler is too: a promise could never be awaited. */
function settled<T>(value: T, what: string): T {
  if (value !== null && typeof value === "object" && typeof (value as { then?: unknown }).then === "function") {
    throw new Error(`${what} returned a promise: plugin handlers are synchronous (drop \`async\`; the store and presence answer at once)`);
  }
  return value;
}

/** NestJS's `WsResponse`: a result with an `event` is emitted to the sender, not acked. */
function isWsResponse(value: unknown): value is { event: string; data?: unknown } {
  return value !== null && typeof value === "object" && typeof (value as { event?: unknown }).event === "string";
}

function handlerExports(plugin: GatewayPlugin, host: Host): HandlerExports {
  const { events, lifecycle } = plugin;
  return {
    onConnect(socket) {
      if (!lifecycle.handleConnection) return;
      try {
        settled(lifecycle.handleConnection(new Ctx(host, socket)), "handleConnection");
      } catch (e) {
        fail(e, host);
      }
    },
    onEvent(socket, event, payload) {
      const handle = Object.hasOwn(events, event) ? events[event] : undefined;
      if (handle === undefined) return undefined;
      const client = new Ctx(host, socket);
      let result: unknown;
      try {
        result = settled(handle(client, decode(payload)), `the ${event} handler`);
      } catch (e) {
        fail(e, host);
      }
      if (result === undefined) return undefined;
      if (isWsResponse(result)) {
        client.emit(result.event, result.data);
        return undefined;
      }
      return encode(result);
    },
    onDisconnect(socket, reason) {
      try {
        lifecycle.handleDisconnect?.(new Ctx(host, socket), reason);
      } catch (e) {
        toWitError(e, logError(host));
      }
    },
    onServerEvent(namespace, event, args) {
      const handle = lifecycle.serverEvents?.[event];
      if (handle === undefined) return undefined;
      const argv = decode(args);
      try {
        const answer = settled(handle(new Server(host, namespace), ...(Array.isArray(argv) ? argv : [argv])), event);
        return answer === undefined ? undefined : encode(answer);
      } catch (e) {
        toWitError(e, logError(host));
        return undefined;
      }
    },
  };
}

function validatorExports(plugin: ValidatorPlugin, host: BaseHost): NonNullable<Exports["validator"]> {
  return {
    validate(socket, event, payload) {
      const data = decode(payload);
      try {
        const out = settled(plugin.validate(new SocketView(host, socket), event, data), "validate");
        return encode(out === undefined ? data : out);
      } catch (e) {
        if (e instanceof ValidationFailed) throw e.violations satisfies Violation[];
        toWitError(e, logError(host));
        throw [{ property: "", message: "Internal error" }] satisfies Violation[];
      }
    },
  };
}

function guardExports(plugin: GuardPlugin, host: BaseHost): NonNullable<Exports["guard"]> {
  return {
    authorize(socket, event, payloadJson) {
      let allowed: boolean | void;
      try {
        allowed = settled(plugin.canActivate(new SocketView(host, socket), event, JSON.parse(payloadJson)), "canActivate");
      } catch (e) {
        fail(e, host);
      }
      if (allowed === false) {
        throw { code: "WS_ERROR", message: "Forbidden resource", dataJson: undefined } satisfies WitError;
      }
    },
  };
}

function filterExports(plugin: FilterPlugin, host: BaseHost): NonNullable<Exports["filter"]> {
  return {
    catch(socket, event, payload, error) {
      const caught = {
        code: error.code,
        message: error.message,
        data: error.dataJson === undefined ? undefined : JSON.parse(error.dataJson),
      };
      try {
        const out = settled(plugin.catch(caught, new SocketView(host, socket), event, decode(payload)), "catch");
        return out === undefined ? undefined : JSON.stringify(out);
      } catch (e) {
        toWitError(e, logError(host));
        return JSON.stringify({ message: "Internal error", code: "INTERNAL_ERROR" });
      }
    },
  };
}

const text = new TextDecoder();
const bytes = new TextEncoder();

/** Turns what a route handler returned (or threw) into the WIT response. */
function respond(value: unknown, method: string): WitResponse {
  const response = isResponse(value) ? value : { status: method === "POST" ? 201 : 200, body: value };
  const headers = Object.entries(response.headers ?? {});
  const body = response.body;
  let raw: Uint8Array;
  if (body === undefined) {
    raw = new Uint8Array();
  } else if (body instanceof Uint8Array) {
    raw = body;
  } else if (typeof body === "string") {
    raw = bytes.encode(body);
  } else {
    raw = bytes.encode(JSON.stringify(body));
    if (!headers.some(([name]) => name.toLowerCase() === "content-type")) headers.push(["content-type", "application/json"]);
  }
  return { status: response.status, headers, body: raw };
}

function httpExports(plugin: ControllerPlugin, host: Host): NonNullable<Exports["httpHandler"]> {
  return {
    handle(request) {
      const route = `${request.method} ${request.path}`;
      const handle = Object.hasOwn(plugin.routes, route) ? plugin.routes[route] : undefined;
      if (handle === undefined) {
        // NestJS's answer for a route it does not have.
        return respond({ status: 404, body: new HttpException(404, `Cannot ${route}`).body() }, request.method);
      }
      const body = request.body;
      let json: unknown;
      try {
        json = body.length === 0 ? undefined : JSON.parse(text.decode(body));
      } catch {
        json = undefined;
      }
      const req: HttpRequest = {
        method: request.method,
        path: request.path,
        query: Object.fromEntries(new URLSearchParams(request.query).entries()),
        headers: Object.fromEntries(request.headers),
        body,
        json,
      };
      try {
        return respond(settled(handle(req, new HttpCtx(host)), route), request.method);
      } catch (e) {
        if (e instanceof HttpException) return respond({ status: e.status, body: e.body() }, request.method);
        toWitError(e, logError(host));
        return respond({ status: 500, body: new HttpException(500, "Internal server error").body() }, request.method);
      }
    },
  };
}
