// Connection state recovery helpers shared by the single-node and cluster tests: a
// quickly reconnecting client, and a stream of room messages cut once in the middle.
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { once, sleep } from "./server.mjs";

export const MESSAGES = 1000;

/** A client that reconnects quickly, as one behind a flaky network would. */
export const reconnecting = (server, opts = {}) =>
  io(server.url, {
    forceNew: true,
    reconnectionDelay: 200,
    reconnectionDelayMax: 200,
    randomizationFactor: 0,
    ...opts,
  });

/** Resolves once `predicate()` holds, polling every 5 ms, or rejects after `ms`. */
export async function until(predicate, what, ms = 15_000) {
  const deadline = performance.now() + ms;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/**
 * Streams `MESSAGES` room messages from `sender` to `room` while `receiver` is in it,
 * and runs `cut(receiver)` once it has received a third of them; the sender goes on
 * once the receiver has seen its connection drop, so some messages are sent while it
 * is away. Resolves with what the receiver got (the first argument of each `m`), the
 * offsets (last arguments) it was given, every `connect` it saw (`{id, recovered}`),
 * and how many messages it received as it came back (before its `connect` event:
 * socket.io-client hands the replayed ones over first). With `redirect` (a URL) the
 * receiver reconnects there: another node.
 */
export async function streamThroughACut(sender, receiver, room, cut, { redirect } = {}) {
  const got = [];
  const offsets = [];
  const connects = [];
  let atDisconnect = 0;
  let replayed = 0;
  receiver.on("m", (n, offset) => {
    got.push(n);
    offsets.push(offset);
  });
  receiver.on("disconnect", () => (atDisconnect = got.length));
  receiver.on("connect", () => {
    connects.push({ id: receiver.id, recovered: receiver.recovered });
    replayed = got.length - atDisconnect;
  });
  let cutDone = false;
  for (let n = 0; n < MESSAGES; n++) {
    // Acked in batches: the sender never outruns its own queue.
    const sent = sender.emitWithAck("relay", { event: "m", args: [n], to: room });
    if (n % 50 === 49) await sent;
    if (!cutDone && got.length >= MESSAGES / 3) {
      cutDone = true;
      const dropped = once(receiver, "disconnect");
      cut(receiver);
      await dropped;
      // Its reconnect goes to another node (socket.io-client's Manager opens each
      // new connection to its `uri`).
      if (redirect) receiver.io.uri = redirect;
      // Reconnecting takes its `reconnectionDelay`; this one is sent long before.
      await sender.emitWithAck("relay", { event: "m", args: [++n], to: room });
    }
  }
  await until(() => got.length >= MESSAGES, `${MESSAGES} messages (got ${got.length})`);
  // Anything duplicated would arrive right behind the last one.
  await sleep(100);
  return { got, offsets, connects, cutDone, replayed };
}

/** Asserts `got` is 0..MESSAGES-1, each once, in order. */
export function assertEveryMessageOnceInOrder(got) {
  assert.equal(got.length, MESSAGES, `received ${got.length}`);
  const wrong = got.findIndex((n, i) => n !== i);
  assert.equal(wrong, -1, `message ${wrong} is ${got[wrong]}`);
}

