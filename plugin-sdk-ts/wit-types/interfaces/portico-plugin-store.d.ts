declare module 'portico:plugin/store@0.2.0' {
  /**
   * The value of `key`, if set and not expired.
   */
  export function kvGet(key: string): string | undefined;
  /**
   * Sets `key`, expiring after `ttl-ms` when given. A value over the gateway's
   * `kv_max_value_bytes`, or a new key past its `kv_max_keys`, traps the call.
   */
  export function kvSet(key: string, value: string, ttlMs: bigint | undefined): void;
  /**
   * Deletes `key`; true if it existed.
   */
  export function kvDelete(key: string): boolean;
  /**
   * Adds `delta` to the integer at `key` (0 when unset) and returns the new value.
   */
  export function kvIncr(key: string, delta: bigint): bigint;
  /**
   * Appends a JSON entry to a room's history, keeping the newest `max-len`.
   */
  export function historyAppend(room: string, entryJson: string, maxLen: number): void;
  /**
   * The newest `limit` entries of a room's history, oldest first.
   */
  export function historyRange(room: string, limit: number): Array<string>;
}
