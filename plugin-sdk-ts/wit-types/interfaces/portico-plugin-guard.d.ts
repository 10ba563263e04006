/// <reference path="./portico-plugin-socket.d.ts" />
/// <reference path="./portico-plugin-types.d.ts" />
declare module 'portico:plugin/guard@0.2.0' {
  /**
   * Allows the event, or refuses it with an error for the client. `payload-json` is
   * the event's first argument (binary attachments stay placeholders: a guard
   * decides on who sends what, not on the bytes). On connection (`guard_connect`)
   * the event is `connect` and the payload the CONNECT `auth`.
   */
  export function authorize(socket: Socket, event: string, payloadJson: string): void;
  export type Error = import('portico:plugin/types@0.2.0').Error;
  export type Socket = import('portico:plugin/socket@0.2.0').Socket;
}
