// The TypeScript DTO validator gives the Rust dto-validator's answers for the seed's DTOs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PluginTest } from "@portico/plugin-sdk/testing";
import pipe from "./dto-validator.js";

test("the seed's DTOs: class-validator's messages, whitelist, other events unchanged", () => {
  const t = new PluginTest(pipe);
  const s = t.socket();
  assert.deepEqual(t.validate(s, "send_message", { roomId: "r", text: "x".repeat(1001) }).violations, [
    { property: "text", message: "text must be shorter than or equal to 1000 characters" },
  ]);
  assert.deepEqual(t.validate(s, "send_message", { roomId: "r", text: "hi", x: 1 }).result, { roomId: "r", text: "hi" });
  assert.deepEqual(t.validate(s, "send_message", { text: "no room" }).result, { text: "no room" }, "roomId is optional");
  assert.deepEqual(t.validate(s, "join_room", { roomId: "" }).violations, [{ property: "roomId", message: "roomId should not be empty" }]);
  assert.deepEqual(t.validate(s, "typing", 5).result, 5);
});
