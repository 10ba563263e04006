// The seed gateways' tests once more, on two nodes of deploy/chat.toml sharing one
// redis-server: every client and HTTP call of each test alternates between the nodes
// (lib/deploy.mjs), so rooms, DMs, REST pushes, presence and the chat history all cross.
process.env.PORTICO_E2E_NODES = "2";
await import("./seed-chat.test.mjs");
await import("./seed-events.test.mjs");
await import("./seed-rest.test.mjs");
