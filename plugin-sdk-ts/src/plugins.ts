/**
 * The five kinds of plugin, one per WIT world, each declared with one call and
 * exported as the module's default:
 *
 * - `gateway`: a namespace's events (`@SubscribeMessage` handlers), connections and
 *   server events (world `handler-plugin`);
 * - `validator`: checks and transforms payloads (`ValidationPipe`);
 * - `guard`: allows or refuses events (`CanActivate`);
 * - `filter`: shapes the errors clients see (`@Catch` exception filters);
 * - `controller`: HTTP routes (`@Controller`), with a socket handler's reach.
 */
import type { Claims, Ctx, SocketView } from "./ctx.js";
import type { HttpCtx, HttpRequest, HttpResponse } from "./http.js";

/** An event handler: `(client, data) => ack`. Returning `undefined` sends no ack; an
 * object with an `event` is NestJS's `WsResponse`, emitted to the sender instead. */
export type EventHandler<User = Claims> = (client: Ctx<User>, data: any) => unknown;

/** A gateway's lifecycle (NestJS's `OnGatewayConnection` / `OnGatewayDisconnect`). */
export interface Lifecycle<User = Claims> {
  /** A socket joins the namespace; throwing refuses it (CONNECT_ERROR). */
  handleConnection?(client: Ctx<User>): void;
  /** A socket left, with Socket.IO's reason. */
  handleDisconnect?(client: Ctx<User>, reason: string): void;
  /** Server events (`io.serverSideEmit`) by name: `(server, ...args) => answer`. */
  serverEvents?: Record<string, (server: import("./ctx.js").Server, ...args: any[]) => unknown>;
}

/** A handler plugin. */
export interface GatewayPlugin<User = Claims> {
  readonly kind: "handler";
  readonly events: Readonly<Record<string, EventHandler<User>>>;
  readonly lifecycle: Lifecycle<User>;
}

/** Declares a gateway: its events by name, and optionally its lifecycle. */
export function gateway<User = Claims>(
  events: Record<string, EventHandler<User>>,
  lifecycle: Lifecycle<User> = {},
): GatewayPlugin<User> {
  return { kind: "handler", events, lifecycle };
}

/** One failed rule, in class-validator's words. */
export interface Violation {
  property: string;
  message: string;
}

/** Thrown by a validator: every rule the payload broke. */
export class ValidationFailed extends Error {
  constructor(readonly violations: Violation[]) {
    super(violations.map((v) => v.message).join(", "));
    this.name = "ValidationFailed";
  }
}

/** Validates `data` for `event`: returns what the handler gets, or throws `ValidationFailed`. */
export type ValidateFn<User = Claims> = (client: SocketView<User>, event: string, data: unknown) => unknown;

/** A validator plugin. */
export interface ValidatorPlugin<User = Claims> {
  readonly kind: "validator";
  readonly validate: ValidateFn<User>;
}

/** Declares a validator. */
export function validator<User = Claims>(validate: ValidateFn<User>): ValidatorPlugin<User> {
  return { kind: "validator", validate };
}

/**
 * Decides whether `client` may send `event` with `data` (on connection: `connect`
 * and the CONNECT `auth`). `false` refuses with NestJS's `Forbidden resource`;
 * throwing a `WsException` refuses with it.
 */
export type AuthorizeFn<User = Claims> = (client: SocketView<User>, event: string, data: unknown) => boolean | void;

/** A guard plugin. */
export interface GuardPlugin<User = Claims> {
  readonly kind: "guard";
  readonly canActivate: AuthorizeFn<User>;
}

/** Declares a guard. */
export function guard<User = Claims>(canActivate: AuthorizeFn<User>): GuardPlugin<User> {
  return { kind: "guard", canActivate };
}

/** The error a filter is given. */
export interface CaughtError {
  code: string;
  message: string;
  data?: unknown;
}

/**
 * Shapes the client's `error` event for `error`, raised handling `event` with
 * `data`: the value to send, or `undefined` to send nothing.
 */
export type CatchFn<User = Claims> = (error: CaughtError, client: SocketView<User>, event: string, data: unknown) => unknown;

/** An exception-filter plugin. */
export interface FilterPlugin<User = Claims> {
  readonly kind: "filter";
  readonly catch: CatchFn<User>;
}

/** Declares an exception filter. */
export function filter<User = Claims>(catchFn: CatchFn<User>): FilterPlugin<User> {
  return { kind: "filter", catch: catchFn };
}

/** A route handler. */
export type RouteHandler = (request: HttpRequest, http: HttpCtx) => HttpResponse | unknown;

/** An HTTP plugin. */
export interface ControllerPlugin {
  readonly kind: "http";
  readonly routes: Readonly<Record<string, RouteHandler>>;
}

/**
 * Declares a controller: handlers by `"METHOD /path"` (the operator maps those routes
 * to the plugin in `[http.routes]`). A handler returns an `HttpResponse`, or any other
 * value to answer 201 (POST) / 200 with it as JSON, as NestJS does.
 */
export function controller(routes: Record<string, RouteHandler>): ControllerPlugin {
  return { kind: "http", routes };
}

/** Any plugin. */
export type Plugin = GatewayPlugin<any> | ValidatorPlugin<any> | GuardPlugin<any> | FilterPlugin<any> | ControllerPlugin;

/** The WIT world a plugin kind is built for. */
export const WORLDS = {
  handler: "handler-plugin",
  validator: "validator-plugin",
  guard: "guard-plugin",
  filter: "filter-plugin",
  http: "http-handler-plugin",
} as const;
