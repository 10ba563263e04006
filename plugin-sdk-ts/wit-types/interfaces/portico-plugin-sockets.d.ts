/// <reference path="./portico-plugin-types.d.ts" />
declare module 'portico:plugin/sockets@0.2.0' {
  /**
   * Emits `event` with `payload` (one JSON value, its attachments with it) to `to` in `namespace`, minus
   * the members of `except-rooms`, minus the calling socket when `except-sender`.
   * `namespace` defaults to the caller's (`/` for an HTTP handler, as `io.emit` does).
   */
  export function emit(namespace: string | undefined, event: string, payload: Payload, to: Target, exceptRooms: Array<string>, exceptSender: boolean): void;
  /**
   * Puts a socket of the caller's namespace (the caller when `none`) in a room.
   * Only socket handlers may: an HTTP handler has no namespace of its own.
   */
  export function join(room: string, socket: string | undefined): void;
  /**
   * Takes a socket (the caller when `none`) out of a room.
   */
  export function leave(room: string, socket: string | undefined): void;
  /**
   * Disconnects a socket (the caller when `none`) from its namespace.
   */
  export function disconnect(socket: string | undefined): void;
  export type Payload = import('portico:plugin/types@0.2.0').Payload;
  /**
   * Who receives an emit.
   */
  export type Target = TargetAll | TargetRooms | TargetSocket | TargetUser;
  /**
   * Every socket in the namespace.
   */
  export interface TargetAll {
    tag: 'all',
  }
  /**
   * Members of any of these rooms.
   */
  export interface TargetRooms {
    tag: 'rooms',
    val: Array<string>,
  }
  /**
   * One socket, by id.
   */
  export interface TargetSocket {
    tag: 'socket',
    val: string,
  }
  /**
   * Every socket of one user (the room `user:<id>`).
   */
  export interface TargetUser {
    tag: 'user',
    val: string,
  }
}
