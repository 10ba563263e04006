declare module 'portico:plugin/types@0.2.0' {
  /**
   * A payload as Socket.IO carries it: one JSON value as text in which each binary
   * attachment stands as `{"_placeholder":true,"num":N}`, and the attachments, the
   * N-th at index N. Without binary, `attachments` is empty and `json` is plain JSON.
   */
  export interface Payload {
    /**
     * The JSON text.
     */
    json: string,
    /**
     * The binary attachments, in placeholder order.
     */
    attachments: Array<Uint8Array>,
  }
  /**
   * An error a plugin raises. The gateway logs it and hands it to the exception
   * filters; without one the client receives `{message, code}` (and `data` when
   * set) as an `error` event.
   */
  export interface Error {
    /**
     * A stable machine-readable code, like `WS_ERROR` or `VALIDATION_ERROR`.
     */
    code: string,
    /**
     * A message that is safe to show to the client.
     */
    message: string,
    /**
     * Optional extra JSON for the client.
     */
    dataJson?: string,
  }
  /**
   * One failed validation rule.
   */
  export interface Violation {
    /**
     * The offending property (dotted path for nested ones).
     */
    property: string,
    /**
     * What is wrong, in class-validator's words: `text should not be empty`.
     */
    message: string,
  }
}
