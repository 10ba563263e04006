declare module 'portico:plugin/config@0.2.0' {
  /**
   * The configuration as a JSON value (`{}` when none was given).
   */
  export function get(): string;
}
