// The events every server in `cargo xtask bench` offers, as a TypeScript plugin: the
// twin of plugins/bench (Rust), so the matrix measures what TypeScript costs on the
// same events.
//
// - `echo`: acks its payload unchanged;
// - `join {room}`: joins the sender to `room` and acks `{joined: room}`;
// - `bcast {room, payload}`: emits `msg` with `payload` to the whole room, sender included.
import { gateway } from "@portico/plugin-sdk";

export default gateway({
  echo(client, payload) {
    return payload;
  },
  join(client, { room }: { room: string }) {
    client.join(room);
    return { joined: room };
  },
  bcast(client, { room, payload }: { room: string; payload: unknown }) {
    client.server.to(room).emit("msg", payload);
  },
});

