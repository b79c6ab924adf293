/**
 * Reading message content of any dialect: a string, or an array of parts. Text parts are joined
 * with newlines; image parts (in user messages only) are collected in order and stand in the
 * text as `[image N]`, so the model can tell which image a sentence means. Any other part
 * (audio, file, tool, ...) is refused with 400.
 *
 * The part shapes are the dialect's:
 * - Chat Completions: `{type: "text", text}`, `{type: "image_url", image_url: {url}}`
 * - Responses: `{type: "input_text" | "output_text", text}`, `{type: "input_image", image_url}`
 * - Messages: `{type: "text", text}`, `{type: "image", source: {type: "base64", media_type, data}}`
 *
 * Images must travel in the request (a base64 data URL or block): the bridge fetches nothing,
 * so an http(s) URL or a file id is refused with 400.
 */
import {
  BridgeError,
  IMAGE_MEDIA_TYPES,
  type Config,
  type ImageInput,
  type ImageMediaType,
} from '@cli-bridge/shared';

export type Dialect = 'chat' | 'responses' | 'messages';

const TEXT_TYPES: Record<Dialect, readonly string[]> = {
  chat: ['text'],
  responses: ['input_text', 'output_text'],
  messages: ['text'],
};
const IMAGE_TYPE: Record<Dialect, string> = {
  chat: 'image_url',
  responses: 'input_image',
  messages: 'image',
};

const DATA_URL = /^data:([a-z]+\/[a-z0-9.+-]+);base64,(.*)$/is;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

const invalid = (param: string, message: string) =>
  new BridgeError('invalid_request', `${param}: ${message}`, { details: { param } });

export interface ContentReader {
  /**
   * The content's text. `imagesAllowed`: whether image parts may stand here (user messages);
   * elsewhere they are refused.
   */
  text(content: unknown, param: string, imagesAllowed?: boolean): string;
  /** The images read so far, in order. */
  readonly images: ImageInput[];
}

/** A reader for one request: it numbers the request's images across all its messages. */
export function createContentReader(
  dialect: Dialect,
  limits: Pick<Config, 'MAX_IMAGE_BYTES' | 'MAX_IMAGES'>,
): ContentReader {
  const images: ImageInput[] = [];

  function image(mediaType: string, data: string, param: string): string {
    if (limits.MAX_IMAGE_BYTES === 0 || limits.MAX_IMAGES === 0)
      throw invalid(param, 'images are not accepted by this bridge');
    if (!(IMAGE_MEDIA_TYPES as readonly string[]).includes(mediaType.toLowerCase()))
      throw invalid(param, `image type "${mediaType}" is not supported (${IMAGE_MEDIA_TYPES.join(', ')})`);
    const b64 = data.replace(/\s+/g, '');
    if (b64.length === 0 || b64.length % 4 === 1 || !BASE64.test(b64))
      throw invalid(param, 'the image data is not valid base64');
    const bytes = Buffer.byteLength(b64, 'base64');
    if (bytes > limits.MAX_IMAGE_BYTES)
      throw invalid(param, `the image is ${bytes} bytes; at most ${limits.MAX_IMAGE_BYTES} are allowed`);
    if (images.length >= limits.MAX_IMAGES)
      throw invalid(param, `at most ${limits.MAX_IMAGES} images are allowed in one request`);
    images.push({ mediaType: mediaType.toLowerCase() as ImageMediaType, data: b64 });
    return `[image ${images.length}]`;
  }

  function fromUrl(url: unknown, param: string): string {
    if (typeof url !== 'string') throw invalid(param, 'must be a string (a data URL)');
    const m = DATA_URL.exec(url);
    if (m) return image(m[1]!, m[2]!, param);
    if (/^https?:/i.test(url))
      throw invalid(
        param,
        'remote image URLs are not fetched by this bridge; send the image inline as a base64 data URL',
      );
    throw invalid(param, 'must be a base64 data URL (data:image/png;base64,...)');
  }

  function imagePart(p: Record<string, unknown>, param: string): string {
    if (dialect === 'chat') {
      const inner = p.image_url as { url?: unknown } | string | undefined;
      return fromUrl(typeof inner === 'string' ? inner : inner?.url, `${param}.image_url.url`);
    }
    if (dialect === 'responses') {
      if (p.file_id !== undefined && p.file_id !== null)
        throw invalid(`${param}.file_id`, 'file ids are not supported; send the image as a data URL');
      return fromUrl(p.image_url, `${param}.image_url`);
    }
    const source = p.source as { type?: unknown; media_type?: unknown; data?: unknown } | undefined;
    if (source?.type === 'url')
      throw invalid(
        `${param}.source`,
        'remote image URLs are not fetched by this bridge; send a base64 image source',
      );
    if (source?.type !== 'base64' || typeof source.media_type !== 'string' || typeof source.data !== 'string')
      throw invalid(
        `${param}.source`,
        'must be {"type": "base64", "media_type": "image/...", "data": "..."}',
      );
    return image(source.media_type, source.data, `${param}.source`);
  }

  function text(content: unknown, param: string, imagesAllowed = false): string {
    if (typeof content === 'string') return content;
    if (content === null || content === undefined) return '';
    if (!Array.isArray(content)) throw invalid(param, 'must be a string or an array of content parts');
    return content
      .map((part: unknown, i) => {
        const at = `${param}[${i}]`;
        const p = part as Record<string, unknown> | null;
        if (typeof p !== 'object' || p === null || typeof p.type !== 'string')
          throw invalid(at, 'must be a content part with a type');
        if (TEXT_TYPES[dialect].includes(p.type)) {
          if (typeof p.text !== 'string') throw invalid(`${at}.text`, 'must be a string');
          return p.text;
        }
        if (p.type === IMAGE_TYPE[dialect]) {
          if (!imagesAllowed) throw invalid(`${at}.type`, 'images are accepted in user messages only');
          return imagePart(p, at);
        }
        throw invalid(
          `${at}.type`,
          `content of type "${p.type}" is not supported; this bridge takes text and images`,
        );
      })
      .join('\n');
  }

  return { text, images };
}

/** 400 for a field this bridge does not support (tools and the like). */
export function unsupported(param: string, what: string): BridgeError {
  return new BridgeError('invalid_request', `${param}: ${what} not supported by this bridge`, {
    details: { param },
  });
}

/** Whether a request field asks for something: set, not null, not an empty array. */
export const present = (v: unknown): boolean =>
  v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0);
