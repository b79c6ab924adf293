/**
 * Structured output requests of the OpenAI dialects, read into the job's `output`:
 * - Chat Completions `response_format`: `{type: "text"}`, `{type: "json_object"}`, or
 *   `{type: "json_schema", json_schema: {name, schema, strict?, description?}}`;
 * - Responses `text.format`: `{type: "text"}`, `{type: "json_object"}`, or
 *   `{type: "json_schema", name, schema, strict?, description?}`.
 *
 * The schema is compiled here, before the request is admitted: one that is not a JSON Schema, or
 * too large to hand to the CLI, is 400 naming the field.
 */
import { BridgeError, compileOutputCheck, MAX_SCHEMA_CHARS, type OutputSpec } from '@cli-bridge/shared';

const invalid = (param: string, message: string) =>
  new BridgeError('invalid_request', `${param}: ${message}`, { details: { param } });

/**
 * `format` is the dialect's format object (absent or null = plain text); `param` names it in
 * errors; `inner` is where the json_schema fields sit: under `json_schema` (Chat Completions) or
 * in the format object itself (Responses).
 */
export function readOutputFormat(
  format: unknown,
  param: string,
  inner: 'json_schema' | 'self',
): OutputSpec | undefined {
  if (format === undefined || format === null) return undefined;
  const f = format as { type?: unknown } & Record<string, unknown>;
  if (typeof f !== 'object' || Array.isArray(f)) throw invalid(param, 'must be an object');
  if (f.type === 'text') return undefined;
  if (f.type === 'json_object') return { kind: 'json_object' };
  if (f.type !== 'json_schema')
    throw invalid(`${param}.type`, 'must be "text", "json_object" or "json_schema"');

  const where = inner === 'json_schema' ? `${param}.json_schema` : param;
  const body = (inner === 'json_schema' ? f.json_schema : f) as Record<string, unknown> | undefined;
  if (typeof body !== 'object' || body === null) throw invalid(where, 'must be an object');
  const schema = body.schema;
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema))
    throw invalid(`${where}.schema`, 'must be a JSON Schema object');
  if (JSON.stringify(schema).length > MAX_SCHEMA_CHARS)
    throw invalid(`${where}.schema`, `must be at most ${MAX_SCHEMA_CHARS} characters as JSON`);
  const name = typeof body.name === 'string' ? body.name.slice(0, 64) : undefined;
  const spec: OutputSpec = {
    kind: 'json_schema',
    schema: schema as Record<string, unknown>,
    ...(name ? { name } : {}),
  };
  try {
    compileOutputCheck(spec);
  } catch (err) {
    throw invalid(`${where}.schema`, `is not a valid JSON Schema (${(err as Error).message})`);
  }
  return spec;
}
