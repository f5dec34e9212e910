import type { FastifySchemaCompiler, FastifySerializerCompiler, FastifyTypeProvider } from 'fastify';
import { z } from 'zod';
import { invalidInput } from '../errors.js';
import { zodMessage } from './errors.js';

/**
 * How fastify uses the zod schemas a route is registered with (schemas.ts): handlers see request
 * parts as the schemas parse them, and the route's documented responses type what they return.
 *
 * Not fastify-type-provider-zod: its validator reports issues as ajv-style records (the path
 * joined with `/`), its serializer re-encodes every reply through the response schema (dropping
 * fields the schema does not name, refusing a reply that leaves out a field the schema defaults),
 * and its OpenAPI transform renames request components (`SendMessageInput`) and documents
 * responses as outputs. What is left to share is this interface.
 */
export interface ZodTypeProvider extends FastifyTypeProvider {
  validator: this['schema'] extends z.ZodType ? z.output<this['schema']> : unknown;
  serializer: this['schema'] extends z.ZodType ? z.input<this['schema']> : unknown;
}

/** The word the error message names the part with: `invalid body: …`, `invalid query: …`. */
const PART_NAMES: Record<string, string> = { body: 'body', querystring: 'query', params: 'path' };

/**
 * Validates a request part with its zod schema; a mismatch is INVALID_INPUT with zodMessage's
 * text (the field, the problem), which the error handler answers as 400 like any TetherError.
 * Header schemas only document: node lowercases header names, and the handlers check the two
 * headers they read (Accept, Last-Event-ID) with messages of their own.
 */
export const validatorCompiler: FastifySchemaCompiler<z.ZodType> = ({ schema, httpPart }) => {
  if (httpPart === 'headers') return () => true;
  if (!(schema instanceof z.ZodType)) throw new Error(`route ${httpPart ?? ''} schema is not a zod schema`);
  const where = PART_NAMES[httpPart ?? ''] ?? 'request';
  return (data) => {
    // Fastify passes a request without a body as null; to the schema it is absent, as before.
    const value = httpPart === 'body' && data === null ? undefined : data;
    const result = schema.safeParse(value);
    return result.success ? { value: result.data } : { error: invalidInput(zodMessage(result.error, where)) };
  };
};

/**
 * Replies leave exactly as the handlers built them (JSON.stringify, fastify's own default): a
 * response schema documents the contract, it must never strip a field it does not name (the
 * session's compatible additions), reorder one or fill a default in.
 */
export const serializerCompiler: FastifySerializerCompiler<unknown> = () => (data) => JSON.stringify(data);
