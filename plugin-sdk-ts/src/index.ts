/**
 * `@portico/plugin-sdk`: write Portico plugins in TypeScript, in a NestJS gateway's
 * words, built to a WebAssembly component by `portico-plugin build`.
 *
 * ```ts
 * import { gateway, WsException } from "@portico/plugin-sdk";
 *
 * export default gateway({
 *   join_room(client, dto: { roomId: string }) {
 *     if (!client.user) throw new WsException("User not found");
 *     client.join(dto.roomId);
 *     client.to(dto.roomId).emit("user_joined_room", { roomId: dto.roomId });
 *     return { joined: dto.roomId };
 *   },
 * });
 * ```
 */
export { gateway, validator, guard, filter, controller, ValidationFailed, WORLDS } from "./plugins.js";
export type {
  EventHandler,
  Lifecycle,
  GatewayPlugin,
  ValidatorPlugin,
  GuardPlugin,
  FilterPlugin,
  ControllerPlugin,
  Plugin,
  Violation,
  CaughtError,
  RouteHandler,
} from "./plugins.js";
export { Ctx, SocketView, Server, Emitter, Store, Presence, Logger } from "./ctx.js";
export type { Claims, Handshake, Rooms } from "./ctx.js";
export { HttpCtx } from "./http.js";
export type { HttpRequest, HttpResponse } from "./http.js";
export { PluginError, WsException, ValidationError, HttpException, BadRequestException, NotFoundException } from "./errors.js";
export { dto, validationPipe, Dto, IsOptional, IsString, IsNotEmpty, IsInt, IsNumber, IsBoolean, MaxLength, MinLength } from "./rules.js";
export type { Rule, PipeOptions } from "./rules.js";
