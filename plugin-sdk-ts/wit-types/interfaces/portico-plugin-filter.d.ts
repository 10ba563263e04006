/// <reference path="./portico-plugin-socket.d.ts" />
/// <reference path="./portico-plugin-types.d.ts" />
declare module 'portico:plugin/filter@0.2.0' {
  /**
   * The payload of the client's `error` event for `error` (one JSON value, like
   * `{"message": "…", "code": "WS_ERROR"}`), raised while handling `event` with
   * `payload` (its first argument, `null` when none; NestJS's
   * `host.switchToWs().getData()`), or `none` to send nothing.
   */
  export { _catch as catch };
  function _catch(socket: Socket, event: string, payload: Payload, error: Error): string | undefined;
  export type Payload = import('portico:plugin/types@0.2.0').Payload;
  export type Error = import('portico:plugin/types@0.2.0').Error;
  export type Socket = import('portico:plugin/socket@0.2.0').Socket;
}
