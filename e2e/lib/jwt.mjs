// Minimal HS256 JWT signing for tests (node:crypto), so tests need no extra package.
import { createHmac } from "node:crypto";

const b64url = (buf) => Buffer.from(buf).toString("base64url");

/** Signs `claims` with `secret`; `header` overrides the JOSE header (e.g. alg). */
export function sign(claims, secret, header = { alg: "HS256", typ: "JWT" }) {
  const head = b64url(JSON.stringify(header));
  const body = b64url(JSON.stringify(claims));
  const alg = { HS256: "sha256", HS384: "sha384", HS512: "sha512" }[header.alg];
  const sig = alg ? createHmac(alg, secret).update(`${head}.${body}`).digest("base64url") : "";
  return `${head}.${body}.${sig}`;
}

/** Seconds since the epoch. */
export const now = () => Math.floor(Date.now() / 1000);
