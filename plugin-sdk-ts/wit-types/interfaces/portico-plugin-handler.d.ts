/// <reference path="./portico-plugin-socket.d.ts" />
/// <reference path="./portico-plugin-types.d.ts" />
declare module 'portico:plugin/handler@0.2.0' {
  /**
   * A socket asks to join the namespace. An error refuses it: the client receives
   * CONNECT_ERROR `{message, code, data}`. Emits made here reach the client after
   * its CONNECT reply.
   */
  export function onConnect(socket: Socket): void;
  /**
   * An event from a client; `payload` is its first argument (NestJS's
   * `@MessageBody()`; JSON `null` when it has none), with every attachment of the
   * packet. `some(payload)` is the ack.
   */
  export function onEvent(socket: Socket, event: string, payload: Payload): Payload | undefined;
  /**
   * A socket left the namespace, with Socket.IO's reason string.
   */
  export function onDisconnect(socket: Socket, reason: string): void;
  /**
   * An event for the servers themselves, from another node of the cluster
   * (Socket.IO's `io.serverSideEmit(event, ...args)`, or the `@socket.io/redis-emitter`
   * of a backend service): it reaches every other node, each of which runs it once.
   * `args` is the JSON array of its arguments. `some(payload)` is this node's answer
   * when the sender asked for acknowledgements (one per node). Emits go to sockets on
   * every node, so a handler that emits on a server event emits once per node.
   */
  export function onServerEvent(namespace: string, event: string, args: Payload): Payload | undefined;
  export type Payload = import('portico:plugin/types@0.2.0').Payload;
  export type Error = import('portico:plugin/types@0.2.0').Error;
  export type Socket = import('portico:plugin/socket@0.2.0').Socket;
}
