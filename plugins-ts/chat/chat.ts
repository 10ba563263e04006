// The seed's ChatGateway (../../../shared/seeds/000, "Complete Chat Example") as a
// Portico plugin in TypeScript, kept as close to the seed's code as the SDK allows.
//
// What the seed keeps elsewhere is elsewhere in Portico too: handleConnection's token
// check is the namespace's `auth = "required"` (and the jwt-guard), its `user:<sub>`
// room and `user_online` / `user_offline` are the namespace's presence,
// `canUserJoinRoom` is the room-guard plugin, the DTOs with `ValidationPipe({whitelist,
// transform})` are the dto-validator plugin, and `WsExceptionFilter` the error-filter.
// `connectedUsers.get(client.id)` is the verified token the guard put in
// `client.data.user`; `chatService`'s messages live in the gateway's store.
import { gateway, WsException, type Ctx } from "@portico/plugin-sdk";

interface JoinRoomDto {
  roomId: string;
}

interface SendMessageDto {
  text: string;
  roomId?: string;
}

interface ConnectedUser {
  userId: string | number;
  username?: string;
}

/** The seed's `connectedUsers.get(client.id)`: who the verified token says. */
function connectedUser(client: Ctx): ConnectedUser | undefined {
  const payload = client.data.user;
  if (payload?.sub === undefined) return undefined;
  return { userId: payload.sub, username: payload.username };
}

/** The seed's `chatService.saveMessage` / `saveDirectMessage`: an id and a time. */
function saveMessage(client: Ctx, text: unknown) {
  return { id: client.store.incr("message-id"), text, createdAt: new Date().toISOString() };
}

export default gateway(
  {
    // The basic gateway's handler: a `{event, data}` return is a WsResponse, emitted
    // to the sender instead of acked.
    message(client, payload: { text?: unknown }) {
      return { event: "message", data: { ok: true, received: payload.text } };
    },

    join_room(client, dto: JoinRoomDto) {
      const user = connectedUser(client);
      if (!user) throw new WsException("User not found");

      client.join(dto.roomId);

      // Load recent messages
      const messages = client.store.history(dto.roomId, 50);

      // Notify room members
      client.to(dto.roomId).emit("user_joined_room", {
        roomId: dto.roomId,
        userId: user.userId,
        username: user.username,
      });

      return { joined: dto.roomId, messages };
    },

    leave_room(client, dto: { roomId: string }) {
      const user = connectedUser(client);
      if (!user) throw new WsException("User not found");

      client.leave(dto.roomId);

      client.to(dto.roomId).emit("user_left_room", {
        roomId: dto.roomId,
        userId: user.userId,
        username: user.username,
      });

      return { left: dto.roomId };
    },

    send_message(client, dto: SendMessageDto) {
      const user = connectedUser(client);
      if (!user) throw new WsException("User not found");

      // Save message to the store
      const message = saveMessage(client, dto.text);

      const payload = {
        id: message.id,
        text: message.text,
        roomId: dto.roomId,
        userId: user.userId,
        username: user.username,
        timestamp: message.createdAt,
      };
      if (dto.roomId !== undefined) client.store.append(dto.roomId, payload, 50);

      // Broadcast to room
      client.server.to(dto.roomId).emit("new_message", payload);

      return { sent: true, messageId: message.id };
    },

    typing(client, dto: { roomId: string; isTyping: boolean }) {
      const user = connectedUser(client);
      if (!user) return;

      client.to(dto.roomId).emit("user_typing", {
        roomId: dto.roomId,
        userId: user.userId,
        username: user.username,
        isTyping: dto.isTyping,
      });
    },

    direct_message(client, dto: { recipientId: number; text: string }) {
      const user = connectedUser(client);
      if (!user) throw new WsException("User not found");

      const message = saveMessage(client, dto.text);

      const payload = {
        id: message.id,
        text: message.text,
        senderId: user.userId,
        senderUsername: user.username,
        timestamp: message.createdAt,
      };

      // Send to recipient's personal room
      client.server.to(`user:${dto.recipientId}`).emit("direct_message", payload);

      return { sent: true, messageId: message.id };
    },
  },
  {
    handleConnection(client) {
      client.logger.log(`User ${connectedUser(client)?.username} connected`);
    },
    handleDisconnect(client) {
      client.logger.log(`User ${connectedUser(client)?.username} disconnected`);
    },
  },
);
