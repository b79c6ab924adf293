/**
 * Structured output and images on the compatible routes, through the official SDKs, with the fake
 * CLIs recording what they were given: the schema reaches each CLI's own flag, the answer is
 * checked against it, and images reach the CLI as images (claude: stream-json image blocks;
 * codex: --image files), never fetched from a URL.
 */
import { existsSync } from 'node:fs';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, tempDir } from './helpers/env.js';
import { createHarness } from './helpers/harness.js';
import { recordWith, waitFor, type FakeRecord } from './helpers/records.js';

const recordDir = tempDir('structured-records');
const MAX_IMAGE_BYTES = 2048;
const h = createHarness('structured', {
  FAKE_CLI_RECORD_DIR: recordDir,
  MAX_IMAGE_BYTES: String(MAX_IMAGE_BYTES),
  MAX_IMAGES: '2',
});
let url = '';
let openai: OpenAI;
let anthropic: Anthropic;

/** What the fakes add to their record for these features. */
type Rec = FakeRecord & {
  jsonSchema?: unknown;
  inputFormat?: string;
  inputImages?: { media_type: string; bytes: number }[];
  images?: { file: string; bytes: number | null }[];
  outputSchema?: unknown;
};
const recordOf = async (marker: string) => (await recordWith(recordDir, marker)) as Rec;
const flagValue = (argv: string[], flag: string) => argv[argv.indexOf(flag) + 1];

/** A 1×1 PNG (70 bytes). */
const PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
const PNG_BYTES = Buffer.from(PNG, 'base64').length;
const dataUrl = `data:image/png;base64,${PNG}`;

const personSchema = {
  type: 'object',
  properties: { name: { type: 'string' }, age: { type: 'integer' } },
  required: ['name', 'age'],
  additionalProperties: false,
};

beforeAll(async () => {
  url = (await h.startApi()).url;
  await h.startWorker(['claude', 'codex'], { FAKE_CLI_RECORD_DIR: recordDir });
  const key = await h.createKey(url, 'structured');
  openai = new OpenAI({ apiKey: key, baseURL: `${url}/v1`, maxRetries: 0 });
  anthropic = new Anthropic({ apiKey: key, baseURL: url, maxRetries: 0 });
});
afterAll(() => h.cleanup());

describe('structured output', () => {
  it('json_schema on Claude: the schema goes to --json-schema, the answer is the JSON text', async () => {
    const c = await openai.chat.completions.create({
      model: 'sonnet',
      messages: [{ role: 'user', content: 'schema-claude @@fake reply={"name":"Ada","age":36}@@' }],
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'person', schema: personSchema, strict: true },
      },
    });
    const text = c.choices[0]!.message.content!;
    expect(JSON.parse(text)).toEqual({ name: 'Ada', age: 36 });
    const rec = await recordOf('schema-claude');
    expect(JSON.parse(flagValue(rec.argv, '--json-schema')!)).toEqual(personSchema);
  });

  it('json_schema on Codex: the schema goes to --output-schema as a file', async () => {
    const c = await openai.chat.completions.create({
      model: 'gpt-5',
      messages: [{ role: 'user', content: 'schema-codex @@fake reply={"name":"Lin","age":7}@@' }],
      response_format: { type: 'json_schema', json_schema: { name: 'person', schema: personSchema } },
    });
    expect(JSON.parse(c.choices[0]!.message.content!)).toEqual({ name: 'Lin', age: 7 });
    const rec = await recordOf('schema-codex');
    expect(rec.outputSchema).toEqual(personSchema);
    // The file lived in the job's private dir, removed with it (after the answer).
    const file = flagValue(rec.argv, '--output-schema')!;
    await waitFor(() => !existsSync(file), 5_000, 'the schema file removed');
  });

  it('json_object: claude gets an object schema; codex is asked for one object; both checked', async () => {
    const claude = await openai.chat.completions.create({
      model: 'sonnet',
      messages: [{ role: 'user', content: 'object-claude @@fake reply={"ok":true}@@' }],
      response_format: { type: 'json_object' },
    });
    expect(JSON.parse(claude.choices[0]!.message.content!)).toEqual({ ok: true });
    expect(JSON.parse(flagValue((await recordOf('object-claude')).argv, '--json-schema')!)).toEqual({
      type: 'object',
    });

    const codex = await openai.chat.completions.create({
      model: 'gpt-5',
      messages: [{ role: 'user', content: 'object-codex @@fake reply={"ok":1}@@' }],
      response_format: { type: 'json_object' },
    });
    expect(JSON.parse(codex.choices[0]!.message.content!)).toEqual({ ok: 1 });
    const rec = await recordOf('object-codex');
    expect(rec.argv).not.toContain('--output-schema');
    expect(rec.stdin).toMatch(/exactly one JSON object/);
  });

  it('an answer that does not match the schema fails the request (502), billed, never passed off', async () => {
    const e = await openai.chat.completions
      .create({
        model: 'sonnet',
        messages: [{ role: 'user', content: 'schema-mismatch @@fake reply={"name":5} cost=0.02@@' }],
        response_format: { type: 'json_schema', json_schema: { name: 'person', schema: personSchema } },
      })
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OpenAI.InternalServerError);
    expect((e as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    expect((e as Error).message).toMatch(/does not match the schema/);
    const logs = await waitFor(async () => {
      const r = await fetch(`${url}/admin/logs?key=structured&limit=50`, {
        headers: { authorization: `Bearer ${ADMIN_KEY}` },
      }).then((x) => x.json() as Promise<{ logs: { job_id: string; status: string; cost_usd: number }[] }>);
      return r.logs.find((l) => l.cost_usd === 0.02);
    });
    expect(logs).toMatchObject({ status: 'failed', cost_usd: 0.02 });

    const notJson = await openai.chat.completions
      .create({
        model: 'gpt-5',
        messages: [{ role: 'user', content: 'object-prose @@fake reply=Sure,_here_it_is@@' }],
        response_format: { type: 'json_object' },
      })
      .catch((x: unknown) => x);
    expect((notJson as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    expect((notJson as Error).message).toMatch(/not valid JSON/);
  });

  it('streams a structured answer whole: the chunks add up to the JSON', async () => {
    const stream = await openai.chat.completions.create({
      model: 'sonnet',
      stream: true,
      messages: [{ role: 'user', content: 'schema-stream @@fake reply={"name":"Bo","age":1}@@' }],
      response_format: { type: 'json_schema', json_schema: { name: 'person', schema: personSchema } },
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(JSON.parse(text)).toEqual({ name: 'Bo', age: 1 });
  });

  it('Responses text.format json_schema: output_text is the JSON, the format echoed back', async () => {
    const format = { type: 'json_schema' as const, name: 'person', schema: personSchema, strict: true };
    const r = await openai.responses.create({
      model: 'sonnet',
      input: 'responses-schema @@fake reply={"name":"Cy","age":2}@@',
      text: { format },
    });
    expect(JSON.parse(r.output_text)).toEqual({ name: 'Cy', age: 2 });
    expect(r.text?.format).toEqual(format);
  });

  it('a schema that is not a JSON Schema, or not an object → 400 naming the field, before any run', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [
        { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'bogus' } } },
        'response_format.json_schema.schema',
      ],
      [{ type: 'json_schema', json_schema: { name: 'x' } }, 'response_format.json_schema.schema'],
      [{ type: 'xml' }, 'response_format.type'],
    ];
    for (const [response_format, param] of cases) {
      const e = await openai.chat.completions
        .create({
          model: 'sonnet',
          messages: [{ role: 'user', content: 'bad schema' }],
          response_format,
        } as never)
        .catch((x: unknown) => x);
      expect(e, JSON.stringify(response_format)).toBeInstanceOf(OpenAI.BadRequestError);
      expect((e as InstanceType<typeof OpenAI.BadRequestError>).param).toBe(param);
    }
    const e = await openai.responses
      .create({
        model: 'sonnet',
        input: 'x',
        text: { format: { type: 'json_schema', name: 'x', schema: { type: 3 } } },
      } as never)
      .catch((x: unknown) => x);
    expect((e as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('text.format.schema');
  });
});

describe('images', () => {
  it('Chat Completions image_url (data URL) → claude gets a stream-json message with the image', async () => {
    const c = await openai.chat.completions.create({
      model: 'sonnet',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'image-chat what is in' },
            { type: 'image_url', image_url: { url: dataUrl, detail: 'low' } },
          ],
        },
      ],
    });
    expect(c.choices[0]!.message.content).toContain('image-chat what is in');
    const rec = await recordOf('image-chat');
    expect(rec.inputFormat).toBe('stream-json');
    expect(flagValue(rec.argv, '--output-format')).toBe('stream-json');
    expect(rec.inputImages).toEqual([{ media_type: 'image/png', bytes: PNG_BYTES }]);
    // The image stands in the text where the caller put it.
    expect(rec.stdin).toBe('image-chat what is in\n[image 1]');
  });

  it('Anthropic base64 image blocks → the same, streamed or not', async () => {
    const m = await anthropic.messages.create({
      model: 'sonnet',
      max_tokens: 50,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
            { type: 'text', text: 'image-anthropic describe' },
          ],
        },
      ],
    });
    expect(m.content[0]).toMatchObject({ type: 'text', text: expect.stringContaining('image-anthropic') });
    const rec = await recordOf('image-anthropic');
    expect(rec.inputImages).toEqual([{ media_type: 'image/png', bytes: PNG_BYTES }]);

    const final = await anthropic.messages
      .stream({
        model: 'sonnet',
        max_tokens: 50,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'image-anthropic-stream' },
              { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
            ],
          },
        ],
      })
      .finalMessage();
    expect(final.content[0]).toMatchObject({ text: expect.stringContaining('image-anthropic-stream') });
    expect((await recordOf('image-anthropic-stream')).inputImages).toHaveLength(1);
  });

  it('Responses input_image → codex gets --image files, removed after the run', async () => {
    const r = await openai.responses.create({
      model: 'gpt-5',
      input: [
        {
          role: 'user',
          content: [
            { type: 'input_text', text: 'image-codex look' },
            { type: 'input_image', image_url: dataUrl, detail: 'auto' },
            { type: 'input_image', image_url: dataUrl, detail: 'auto' },
          ],
        },
      ],
    });
    expect(r.output_text).toContain('image-codex look');
    const rec = await recordOf('image-codex');
    expect(rec.images).toHaveLength(2);
    for (const img of rec.images!) {
      expect(img.bytes).toBe(PNG_BYTES);
      expect(img.file).toMatch(/image-\d\.png$/);
      await waitFor(() => !existsSync(img.file), 5_000, 'the image file removed');
    }
    expect(rec.argv.filter((a) => a.startsWith('--image='))).toHaveLength(2);
  });

  it('refuses remote URLs, images outside user turns, bad data, too large and too many → 400', async () => {
    const user = (content: unknown) => ({ role: 'user', content });
    const img = (url: string) => ({ type: 'image_url', image_url: { url } });
    const big = Buffer.alloc(MAX_IMAGE_BYTES + 1).toString('base64');
    const cases: [unknown[], string, RegExp][] = [
      [[user([img('https://example.com/cat.png')])], 'messages[0].content[0].image_url.url', /not fetched/],
      [
        [{ role: 'system', content: [img(dataUrl)] }, user('x')],
        'messages[0].content[0].type',
        /user messages only/,
      ],
      [[user([img('data:image/tiff;base64,AAAA')])], 'messages[0].content[0].image_url.url', /not supported/],
      [[user([img('data:image/png;base64,***')])], 'messages[0].content[0].image_url.url', /base64/],
      [[user([img(`data:image/png;base64,${big}`)])], 'messages[0].content[0].image_url.url', /at most 2048/],
      [
        [user([img(dataUrl), img(dataUrl), img(dataUrl)])],
        'messages[0].content[2].image_url.url',
        /at most 2 images/,
      ],
      [
        [user([{ type: 'input_audio', input_audio: { data: 'AA', format: 'wav' } }])],
        'messages[0].content[0].type',
        /not supported/,
      ],
    ];
    for (const [messages, param, message] of cases) {
      const e = await openai.chat.completions
        .create({ model: 'sonnet', messages } as never)
        .catch((x: unknown) => x);
      expect(e, param).toBeInstanceOf(OpenAI.BadRequestError);
      expect(
        (e as InstanceType<typeof OpenAI.BadRequestError>).param,
        JSON.stringify(messages).slice(0, 200),
      ).toBe(param);
      expect((e as Error).message).toMatch(message);
    }
    const e = await anthropic.messages
      .create({
        model: 'sonnet',
        max_tokens: 5,
        messages: [
          {
            role: 'user',
            content: [{ type: 'image', source: { type: 'url', url: 'https://example.com/a.png' } }],
          },
        ],
      })
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(Anthropic.BadRequestError);
    expect((e as Error).message).toMatch(/not fetched/);
  });

  it('count_tokens counts an image as 1600 tokens', async () => {
    const text = 'x'.repeat(40);
    const counted = await anthropic.messages.countTokens({
      model: 'sonnet',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
          ],
        },
      ],
    });
    // 40 characters + "\n[image 1]" (10) = 50 → 13 tokens, plus one image.
    expect(counted.input_tokens).toBe(13 + 1600);
  });
});
