/// <reference path="./portico-plugin-socket.d.ts" />
/// <reference path="./portico-plugin-types.d.ts" />
declare module 'portico:plugin/validator@0.2.0' {
  /**
   * The payload to pass on (possibly transformed), or every violation found.
   */
  export function validate(socket: Socket, event: string, payload: Payload): Payload;
  export type Payload = import('portico:plugin/types@0.2.0').Payload;
  export type Violation = import('portico:plugin/types@0.2.0').Violation;
  export type Socket = import('portico:plugin/socket@0.2.0').Socket;
}
