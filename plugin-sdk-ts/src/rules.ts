/**
 * class-validator's decorators as values, so a DTO is checked with class-validator's
 * own messages without decorators or reflection:
 *
 * ```ts
 * const SendMessageDto = dto({ text: [IsString(), IsNotEmpty(), MaxLength(1000)], roomId: [IsString(), IsOptional()] });
 * export default validationPipe({ send_message: SendMessageDto }, { whitelist: true });
 * ```
 *
 * Properties are checked in name order (as Portico's Rust `dto-validator` does, so both
 * report violations alike), each property's rules in the order given.
 */
import { ValidationFailed, validator, type ValidatorPlugin, type Violation } from "./plugins.js";

/** One rule: the message for `property` when `value` breaks it. */
export interface Rule {
  readonly name: string;
  check(property: string, value: unknown): string | undefined;
}

const rule = (name: string, check: Rule["check"]): Rule => ({ name, check });
const absent = (value: unknown) => value === undefined || value === null;

/** `@IsOptional()`: `null` or absent skips the property's other rules. */
export const IsOptional = (): Rule => rule("IsOptional", () => undefined);
/** `@IsString()`. */
export const IsString = (): Rule =>
  rule("IsString", (p, v) => (typeof v === "string" ? undefined : `${p} must be a string`));
/** `@IsNotEmpty()`: not `""`, `null` or absent. */
export const IsNotEmpty = (): Rule =>
  rule("IsNotEmpty", (p, v) => (v === "" || absent(v) ? `${p} should not be empty` : undefined));
/** `@IsInt()`. */
export const IsInt = (): Rule =>
  rule("IsInt", (p, v) => (Number.isInteger(v) ? undefined : `${p} must be an integer number`));
/** `@IsNumber()`. */
export const IsNumber = (): Rule =>
  rule("IsNumber", (p, v) =>
    typeof v === "number" && Number.isFinite(v) ? undefined : `${p} must be a number conforming to the specified constraints`,
  );
/** `@IsBoolean()`. */
export const IsBoolean = (): Rule =>
  rule("IsBoolean", (p, v) => (typeof v === "boolean" ? undefined : `${p} must be a boolean value`));
/** `@MaxLength(max)`, in UTF-16 code units as JavaScript counts. */
export const MaxLength = (max: number): Rule =>
  rule("MaxLength", (p, v) =>
    typeof v === "string" && v.length <= max ? undefined : `${p} must be shorter than or equal to ${max} characters`,
  );
/** `@MinLength(min)`. */
export const MinLength = (min: number): Rule =>
  rule("MinLength", (p, v) =>
    typeof v === "string" && v.length >= min ? undefined : `${p} must be longer than or equal to ${min} characters`,
  );

/** `ValidationPipe` options that change what passes. */
export interface PipeOptions {
  /** Drop properties that have no rules. */
  whitelist?: boolean;
  /** Refuse properties that have no rules. */
  forbidNonWhitelisted?: boolean;
}

/** A DTO class's rules by property. */
export class Dto {
  constructor(readonly properties: Readonly<Record<string, readonly Rule[]>>) {}

  /** The value to pass on, or `ValidationFailed` with every violation. */
  validate(value: unknown, options: PipeOptions = {}): Record<string, unknown> {
    // class-validator checks a non-object as an object with no properties.
    const object: Record<string, unknown> =
      value !== null && typeof value === "object" && !Array.isArray(value) ? { ...(value as Record<string, unknown>) } : {};
    const violations: Violation[] = [];
    for (const property of Object.keys(this.properties).sort()) {
      const rules = this.properties[property] ?? [];
      const v = object[property];
      if (absent(v) && rules.some((r) => r.name === "IsOptional")) continue;
      for (const r of rules) {
        const message = r.check(property, v);
        if (message !== undefined) violations.push({ property, message });
      }
    }
    for (const property of Object.keys(object).filter((k) => !Object.hasOwn(this.properties, k))) {
      if (options.forbidNonWhitelisted) {
        violations.push({ property, message: `property ${property} should not exist` });
      } else if (options.whitelist) {
        delete object[property];
      }
    }
    if (violations.length > 0) throw new ValidationFailed(violations);
    return object;
  }
}

/** Declares a DTO's rules. */
export function dto(properties: Record<string, readonly Rule[]>): Dto {
  return new Dto(properties);
}

/**
 * `@UsePipes(new ValidationPipe(options))` over a gateway: a validator plugin that
 * checks each event's DTO (an event without one passes unchanged).
 */
export function validationPipe(dtos: Record<string, Dto>, options: PipeOptions = {}): ValidatorPlugin {
  return validator((_client, event, data) => {
    const schema = Object.hasOwn(dtos, event) ? dtos[event] : undefined;
    return schema === undefined ? data : schema.validate(data, options);
  });
}
