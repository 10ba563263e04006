/**
 * Payloads as Socket.IO carries them: one JSON value in which each binary attachment
 * stands as `{"_placeholder":true,"num":N}`. A plugin sees plain JavaScript values with
 * `Uint8Array`s where the bytes were, and may send any of `Uint8Array`, `ArrayBuffer`
 * or a typed array's view the same way.
 */
import type { Payload as WitPayload } from "portico:plugin/types@0.2.0";

/** The WIT `payload` record: the JSON text and its attachments. */
export type Payload = WitPayload;

/** Turns a payload into the value it carries, its attachments back in their places. */
export function decode(payload: Payload): unknown {
  const value: unknown = JSON.parse(payload.json);
  if (payload.attachments.length === 0) return value;
  return restore(value, payload.attachments);
}

function restore(value: unknown, attachments: Uint8Array[]): unknown {
  if (Array.isArray(value)) return value.map((v) => restore(v, attachments));
  if (value !== null && typeof value === "object") {
    const record = value as Record<string, unknown>;
    if (record._placeholder === true && typeof record.num === "number") {
      return attachments[record.num] ?? null;
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(record)) out[k] = restore(v, attachments);
    return out;
  }
  return value;
}

/**
 * Turns a value into a payload: binary values become attachments. `undefined` becomes
 * JSON `null` (the value a handler returns as its ack must be something).
 */
export function encode(value: unknown): Payload {
  const attachments: Uint8Array[] = [];
  const json = JSON.stringify(value === undefined ? null : value, (_key, v: unknown) => {
    const bytes = asBytes(v);
    if (bytes === undefined) return v;
    attachments.push(bytes);
    return { _placeholder: true, num: attachments.length - 1 };
  });
  return { json, attachments };
}

function asBytes(value: unknown): Uint8Array | undefined {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  return undefined;
}
