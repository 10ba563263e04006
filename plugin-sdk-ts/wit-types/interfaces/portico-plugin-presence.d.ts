declare module 'portico:plugin/presence@0.2.0' {
  /**
   * Every online user of `namespace`. Each `namespace` here defaults to the
   * caller's (`/` for an HTTP handler).
   */
  export function onlineUsers(namespace: string | undefined): Array<OnlineUser>;
  /**
   * A user's socket ids in `namespace` (empty when offline).
   */
  export function userSockets(namespace: string | undefined, userId: string): Array<string>;
  /**
   * Whether a user has a socket in `namespace`.
   */
  export function isOnline(namespace: string | undefined, userId: string): boolean;
  /**
   * An online user.
   */
  export interface OnlineUser {
    /**
     * The `sub` claim.
     */
    userId: string,
    /**
     * `username` or `name` from the claims.
     */
    username: string,
    /**
     * How many sockets the user has in the namespace.
     */
    sockets: number,
  }
}
