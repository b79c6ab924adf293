/**
 * Reading message content of any dialect: a string, or an array of parts of which only text
 * parts are supported (an image, audio, file, tool or any other part is refused with 400). The
 * text part types are the dialect's: `text` for Chat Completions and Messages, `input_text` and
 * `output_text` for Responses.
 */
import { BridgeError } from '@cli-bridge/shared';

export function contentText(
  content: unknown,
  param: string,
  textTypes: readonly string[] = ['text'],
): string {
  if (typeof content === 'string') return content;
  if (content === null || content === undefined) return '';
  if (!Array.isArray(content)) {
    throw new BridgeError('invalid_request', `${param} must be a string or an array of text parts`, {
      details: { param },
    });
  }
  return content
    .map((part: unknown, i) => {
      const p = part as { type?: unknown; text?: unknown } | null;
      if (typeof p !== 'object' || p === null || typeof p.type !== 'string') {
        throw new BridgeError('invalid_request', `${param}[${i}] must be a content part with a type`, {
          details: { param: `${param}[${i}]` },
        });
      }
      if (!textTypes.includes(p.type)) {
        throw new BridgeError(
          'invalid_request',
          `${param}[${i}]: content of type "${p.type}" is not supported; this bridge takes text only`,
          { details: { param: `${param}[${i}].type` } },
        );
      }
      if (typeof p.text !== 'string') {
        throw new BridgeError('invalid_request', `${param}[${i}].text must be a string`, {
          details: { param: `${param}[${i}].text` },
        });
      }
      return p.text;
    })
    .join('\n');
}

/** 400 for a field this bridge does not support (tools and the like). */
export function unsupported(param: string, what: string): BridgeError {
  return new BridgeError('invalid_request', `${param}: ${what} not supported by this bridge (text only)`, {
    details: { param },
  });
}

/** Whether a request field asks for something: set, not null, not an empty array. */
export const present = (v: unknown): boolean =>
  v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0);
