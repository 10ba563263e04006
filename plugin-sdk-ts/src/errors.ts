/**
 * Errors a plugin throws, and how each reaches the client: the gateway hands it to the
 * namespace's exception filters, and without one the client gets `{message, code}`
 * (and `data` when set) as an `error` event.
 */
import type { Error as WitError } from "portico:plugin/types@0.2.0";

/** An error with any code; the base of the SDK's others. */
export class PluginError extends Error {
  /** A stable machine-readable code, like `WS_ERROR`. */
  readonly code: string;
  /** Extra JSON for the client. */
  readonly data: unknown;

  constructor(code: string, message: string, data?: unknown) {
    super(message);
    this.name = "PluginError";
    this.code = code;
    this.data = data;
  }
}

/**
 * NestJS's `WsException`: `WS_ERROR` with the message a client may see. Given an
 * object, as Nest allows, its `message` is the message and the object the data.
 */
export class WsException extends PluginError {
  constructor(error: string | { message?: unknown; [key: string]: unknown }) {
    if (typeof error === "string") {
      super("WS_ERROR", error);
    } else {
      super("WS_ERROR", typeof error.message === "string" ? error.message : "Error", error);
    }
    this.name = "WsException";
  }
}

/** `VALIDATION_ERROR`. */
export class ValidationError extends PluginError {
  constructor(message: string, data?: unknown) {
    super("VALIDATION_ERROR", message, data);
    this.name = "ValidationError";
  }
}

/**
 * The WIT error for anything thrown: a `PluginError` as it is; anything else (a bug, a
 * `TypeError`) as `INTERNAL_ERROR` with the client-safe message `Internal error`, its
 * detail logged by `log` and never sent.
 */
export function toWitError(thrown: unknown, log: (message: string) => void): WitError {
  if (thrown instanceof PluginError) {
    return {
      code: thrown.code,
      message: thrown.message,
      dataJson: thrown.data === undefined ? undefined : JSON.stringify(thrown.data),
    };
  }
  log(`internal error: ${thrown instanceof Error ? (thrown.stack ?? thrown.message) : String(thrown)}`);
  return { code: "INTERNAL_ERROR", message: "Internal error", dataJson: undefined };
}

/** The reason phrases NestJS puts in an `HttpException` body's `error`. */
const REASONS: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  413: "Payload Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Entity",
  429: "Too Many Requests",
};

/**
 * NestJS's `HttpException`, thrown by a route handler: answered
 * `{statusCode, message, error}` with its status.
 */
export class HttpException extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "HttpException";
  }

  /** Its body, as NestJS writes it (a 500 has no `error`). */
  body(): Record<string, unknown> {
    const body: Record<string, unknown> = { statusCode: this.status, message: this.message };
    const reason = REASONS[this.status];
    if (reason !== undefined && this.status !== 500) body.error = reason;
    return body;
  }
}

/** 400, NestJS's `BadRequestException`. */
export class BadRequestException extends HttpException {
  constructor(message = "Bad Request") {
    super(400, message);
  }
}

/** 404, NestJS's `NotFoundException`. */
export class NotFoundException extends HttpException {
  constructor(message = "Not Found") {
    super(404, message);
  }
}
