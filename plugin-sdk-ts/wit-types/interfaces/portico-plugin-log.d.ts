declare module 'portico:plugin/log@0.2.0' {
  /**
   * Writes one log line.
   */
  export function log(level: Level, message: string): void;
  /**
   * Severity.
   * # Variants
   * 
   * ## `"trace"`
   * 
   * ## `"debug"`
   * 
   * ## `"info"`
   * 
   * ## `"warn"`
   * 
   * ## `"error"`
   */
  export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error';
}
