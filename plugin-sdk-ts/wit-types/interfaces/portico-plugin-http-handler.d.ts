declare module 'portico:plugin/http-handler@0.2.0' {
  /**
   * Answers a request. The emits it made are applied when the status is below 400.
   */
  export function handle(request: Request): Response;
  /**
   * A request, its body read whole (at most `http.max_body_bytes`).
   */
  export interface Request {
    /**
     * The method in upper case: `GET`, `POST`, …
     */
    method: string,
    /**
     * The path, like `/notifications/send`.
     */
    path: string,
    /**
     * The raw query string without the `?` (empty when there is none).
     */
    query: string,
    /**
     * Header names in lower case with their values, in the order received.
     */
    headers: Array<[string, string]>,
    /**
     * The body.
     */
    body: Uint8Array,
  }
  /**
   * The answer.
   */
  export interface Response {
    /**
     * The HTTP status, 100 to 599.
     */
    status: number,
    /**
     * Headers to send (a valid name and value each).
     */
    headers: Array<[string, string]>,
    /**
     * The body (at most `http.max_body_bytes`).
     */
    body: Uint8Array,
  }
}
