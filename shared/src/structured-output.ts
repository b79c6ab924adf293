/**
 * Structured output and images: what a compatible request may add to a job beyond its two
 * prompts, and the checks both sides make.
 *
 * - `output`: the answer must be one JSON object (`json_object`) or match a JSON Schema
 *   (`json_schema`). The API compiles the schema before admitting the request (400 when it is
 *   not a schema); the worker hands it to the CLI's own flag (`claude --json-schema`,
 *   `codex exec --output-schema`) and checks the answer against it (a mismatch fails the job).
 * - `images`: base64 images the CLI sees as images (claude: stream-json input; codex: `--image`).
 *
 * Schemas are checked with ajv (draft 2020-12, which also reads the draft-07 schemas clients
 * send), in non-strict mode: schemas written for OpenAI carry keywords ajv does not know.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import { z } from 'zod';

/** A JSON Schema goes to claude as one argv item, which Linux caps at 128 KiB. */
export const MAX_SCHEMA_CHARS = 64 * 1024;

/** The image types both CLIs accept. */
export const IMAGE_MEDIA_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'] as const;
export type ImageMediaType = (typeof IMAGE_MEDIA_TYPES)[number];

export const outputSpecSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('json_object') }),
  z.object({
    kind: z.literal('json_schema'),
    /** The caller's name for the schema (OpenAI's `json_schema.name`), for messages only. */
    name: z.string().max(64).optional(),
    schema: z.record(z.string(), z.unknown()),
  }),
]);
export type OutputSpec = z.infer<typeof outputSpecSchema>;

export const imageInputSchema = z.object({
  mediaType: z.enum(IMAGE_MEDIA_TYPES),
  /** Base64, no data-URL prefix. */
  data: z.string().min(1),
});
export type ImageInput = z.infer<typeof imageInputSchema>;

/** The schema a `json_object` answer is checked against (and claude is given). */
export const ANY_OBJECT_SCHEMA = { type: 'object' } as const;

export function schemaOf(spec: OutputSpec): Record<string, unknown> {
  return spec.kind === 'json_schema' ? spec.schema : { ...ANY_OBJECT_SCHEMA };
}

/** A compiled answer check: the answer text's error, or undefined when it is valid. */
export type AnswerCheck = (text: string) => string | undefined;

/**
 * Compiles the spec's schema (throws an Error saying why when it is not a JSON Schema) into a
 * check of answer texts: valid JSON (surrounding whitespace allowed) that matches the schema.
 */
export function compileOutputCheck(spec: OutputSpec): AnswerCheck {
  const ajv = new Ajv2020({ strict: false, allErrors: false, validateFormats: false });
  const validate = ajv.compile(schemaOf(spec));
  return (text) => {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return 'the answer is not valid JSON';
    }
    if (validate(value)) return undefined;
    return `the answer does not match the schema: ${ajv.errorsText(validate.errors, { dataVar: 'answer' })}`;
  };
}
