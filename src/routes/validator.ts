/**
 * REST request validation with TypeBox, the engine that checks WebSocket
 * frames (src/protocol/codec.ts), so that REST and WebSocket accept exactly
 * the same values. A JSON body is checked as sent: `42` is not a string and
 * `"5"` is not an integer (Ajv's type coercion would store them converted).
 * Querystrings and params are text by nature, so they are converted to the
 * schema's types, exactly ("1.5" or "1e3" is not an integer), and their
 * defaults filled in. An absent body passes where the schema marks it optional.
 */
import type { FastifySchemaCompiler } from 'fastify';
import { IsOptional, type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { Value } from 'typebox/value';

export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const check = Compile(schema);
  const optionalBody = httpPart === 'body' && IsOptional(schema);
  return (input: unknown) => {
    // Fastify hands an absent body over as null
    if (optionalBody && (input === null || input === undefined)) return { value: undefined };
    const value = httpPart === 'body' ? input : fromText(schema, input);
    if (check.Check(value)) return { value };
    return { error: check.Errors(value) };
  };
};

function fromText(schema: TSchema, input: unknown): unknown {
  const value = Value.Convert(schema, Value.Default(schema, Value.Clone(input)));
  if (isRecord(input) && isRecord(value)) {
    for (const [key, text] of Object.entries(input)) {
      // a lossy conversion: leave the text for the check to refuse
      if (typeof text === 'string' && typeof value[key] === 'number' && String(value[key]) !== text) return input;
    }
  }
  return value;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
