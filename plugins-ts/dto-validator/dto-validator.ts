// The seed's DTOs with `@UsePipes(new ValidationPipe({ whitelist: true, transform: true }))`,
// as a TypeScript validator: class-validator's rules and messages, no decorators.
//
//   export class JoinRoomDto { @IsString() @IsNotEmpty() roomId: string; }
//   export class SendMessageDto {
//     @IsString() @IsNotEmpty() @MaxLength(1000) text: string;
//     @IsString() @IsOptional() roomId?: string;
//   }
import { dto, validationPipe, IsNotEmpty, IsOptional, IsString, MaxLength } from "@portico/plugin-sdk";

const JoinRoomDto = dto({ roomId: [IsString(), IsNotEmpty()] });

const SendMessageDto = dto({
  text: [IsString(), IsNotEmpty(), MaxLength(1000)],
  roomId: [IsString(), IsOptional()],
});

export default validationPipe({ join_room: JoinRoomDto, send_message: SendMessageDto }, { whitelist: true });
