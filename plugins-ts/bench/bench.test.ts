// The TypeScript bench plugin answers as the Rust one does.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PluginTest } from "@portico/plugin-sdk/testing";
import bench from "./bench.js";

test("echo acks its payload, join acks joined, bcast reaches the room with the sender", () => {
  const t = new PluginTest(bench);
  const s = t.socket();
  assert.deepEqual(t.event(s, "echo", { a: [1, "x"] }).ack, { a: [1, "x"] });
  const joined = t.event(s, "join", { room: "r" });
  assert.deepEqual([joined.ack, joined.joins], [{ joined: "r" }, [{ room: "r", socket: undefined }]]);
  const sent = t.event(s, "bcast", { room: "r", payload: { n: 1 } });
  assert.equal(sent.ack, undefined);
  assert.deepEqual(sent.emits.map((e) => [e.event, e.to, e.exceptSender, e.data]), [["msg", { tag: "rooms", val: ["r"] }, false, { n: 1 }]]);
});
