/**
 * POST /v1/responses (OpenAI's Responses API), driven by the REAL official `openai` client against
 * an in-process API and worker with the fake CLIs: plain and streamed answers (the SDK's own
 * stream helpers and the raw event sequence), conversation input, refusals as the SDK's error
 * classes, failed and abandoned streams, and the same accounting as /generate.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, tempDir } from './helpers/env.js';
import { createHarness, postJson } from './helpers/harness.js';
import { recordWith, waitFor } from './helpers/records.js';

const recordDir = tempDir('responses-records');
const h = createHarness('responses', { FAKE_CLI_RECORD_DIR: recordDir });
let url = '';
let key = '';
let openai: OpenAI;

const openaiFor = (apiKey: string) => new OpenAI({ apiKey, baseURL: `${url}/v1`, maxRetries: 0 });

beforeAll(async () => {
  const api = await h.startApi();
  url = api.url;
  await h.startWorker(['claude', 'codex'], { FAKE_CLI_RECORD_DIR: recordDir });
  key = await h.createKey(url, 'responses');
  openai = openaiFor(key);
});
afterAll(() => h.cleanup());

const recordOf = (marker: string) => recordWith(recordDir, marker);

describe('responses.create', () => {
  it('answers in the response shape: output message, output_text, usage', async () => {
    const r = await openai.responses.create({
      model: 'claude-sonnet-4-5',
      instructions: 'Be brief.',
      input: 'What is 2+2? resp-plain @@fake in=120 out=34 cache_read=5 cost=0.0123@@',
      temperature: 0.2,
      top_p: 0.9,
      max_output_tokens: 50,
      metadata: { trace: 'abc' },
      user: 'someone',
      store: false,
    });
    expect(r).toMatchObject({
      id: expect.stringMatching(/^resp_claude-[0-9a-f-]{36}$/),
      object: 'response',
      created_at: expect.any(Number),
      status: 'completed',
      error: null,
      incomplete_details: null,
      instructions: 'Be brief.',
      tools: [],
      parallel_tool_calls: false,
      metadata: { trace: 'abc' },
      output: [
        {
          type: 'message',
          id: expect.stringMatching(/^msg_claude-/),
          status: 'completed',
          role: 'assistant',
          content: [{ type: 'output_text', text: 'Echo: What is 2+2? resp-plain', annotations: [] }],
        },
      ],
      usage: {
        input_tokens: 125,
        input_tokens_details: { cached_tokens: 5 },
        output_tokens: 34,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: 159,
      },
    });
    expect(r.output_text).toBe('Echo: What is 2+2? resp-plain');
    const rec = await recordOf('resp-plain');
    expect(rec.systemPrompt).toBe('Be brief.');
    expect(rec.provider).toBe('claude');
  });

  it('routes GPT names to Codex and takes message items as input', async () => {
    const r = await openai.responses.create({
      model: 'gpt-5',
      input: [{ role: 'user', content: [{ type: 'input_text', text: 'codex resp-items' }] }],
    });
    expect(r.id).toMatch(/^resp_codex-/);
    expect(r.output_text).toContain('codex resp-items');
    expect((await recordOf('resp-items')).argv).toEqual(expect.arrayContaining(['-m', 'gpt-5']));
  });

  it('renders a multi-turn input (roles, message items, text parts) into one CLI run', async () => {
    const r = await openai.responses.create({
      model: 'sonnet',
      instructions: 'Instructions first.',
      input: [
        { role: 'developer', content: 'Developer two.' },
        { role: 'user', content: 'first <question> resp-multi' },
        {
          type: 'message',
          role: 'assistant',
          id: 'msg_earlier',
          status: 'completed',
          content: [{ type: 'output_text', text: 'an answer & more', annotations: [] }],
        },
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'second question' }] },
      ],
    });
    expect(r.output_text).toMatch(/^Echo: The conversation so far/);
    const rec = await recordOf('resp-multi');
    expect(rec.systemPrompt).toBe('Instructions first.\n\nDeveloper two.');
    expect(rec.stdin).toContain(
      [
        '<turn role="user">first &lt;question&gt; resp-multi</turn>',
        '<turn role="assistant">an answer &amp; more</turn>',
        '<turn role="user">second question</turn>',
      ].join('\n'),
    );
  });
});

describe('streaming', () => {
  it('streams the real event sequence with sequence numbers (responses.create stream: true)', async () => {
    const stream = await openai.responses.create({
      model: 'sonnet',
      input: 'Count one two three @@fake in=20 out=9 chunk_delay_ms=30@@',
      stream: true,
    });
    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const ev of stream) events.push(ev);
    const types = events.map((e) => e.type);
    const deltas = events.filter((e) => e.type === 'response.output_text.delta');
    expect(deltas.length).toBeGreaterThan(1);
    expect(types).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      ...deltas.map(() => 'response.output_text.delta'),
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    const text = deltas.map((d) => d.delta).join('');
    expect(text).toBe('Echo: Count one two three');
    const done = events.find((e) => e.type === 'response.output_text.done')!;
    expect(done).toMatchObject({ text, output_index: 0, content_index: 0 });
    const created = events[0] as OpenAI.Responses.ResponseCreatedEvent;
    expect(created.response).toMatchObject({ status: 'in_progress', output: [], usage: null });
    const completed = events.at(-1) as OpenAI.Responses.ResponseCompletedEvent;
    expect(completed.response).toMatchObject({
      id: created.response.id,
      status: 'completed',
      model: 'sonnet',
      output_text: text,
      output: [{ type: 'message', role: 'assistant', content: [{ type: 'output_text', text }] }],
      usage: { input_tokens: 20, output_tokens: 9, total_tokens: 29 },
    });
  });

  it('works with responses.stream: text deltas and finalResponse', async () => {
    const stream = openai.responses.stream({
      model: 'sonnet',
      instructions: 'Be brief.',
      input: 'stream helper @@fake in=7 out=3 chunk_delay_ms=10@@',
    });
    let text = '';
    stream.on('response.output_text.delta', (e) => (text += e.delta));
    const final = await stream.finalResponse();
    expect(text).toBe('Echo: stream helper');
    expect(final.output_text).toBe('Echo: stream helper');
    expect(final.status).toBe('completed');
    expect(final.usage).toMatchObject({ input_tokens: 7, output_tokens: 3, total_tokens: 10 });
  });

  it('writes each event as `event: <type>` and `data: <json>` on the wire', async () => {
    const res = await fetch(`${url}/v1/responses`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'sonnet', input: 'wire check', stream: true }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('x-job-id')).toMatch(/^claude-/);
    const blocks = (await res.text()).split('\n\n').filter((b) => b.startsWith('event: '));
    for (const b of blocks) {
      const [ev, data] = b.split('\n');
      expect(JSON.parse(data!.replace(/^data: /, '')).type).toBe(ev!.replace(/^event: /, ''));
    }
    expect(blocks.at(-1)).toMatch(/^event: response\.completed\n/);
  });

  it('a job that fails ends the stream with response.failed', async () => {
    const stream = await openai.responses.create({
      model: 'sonnet',
      input: 'fail me @@fake mode=error-401@@',
      stream: true,
    });
    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const ev of stream) events.push(ev);
    const last = events.at(-1) as OpenAI.Responses.ResponseFailedEvent;
    expect(last.type).toBe('response.failed');
    expect(last.response.status).toBe('failed');
    expect(last.response.error).toMatchObject({ code: expect.any(String), message: expect.any(String) });
    expect(events.some((e) => e.type === 'response.completed')).toBe(false);
  });

  it('a client that leaves a stream cancels its job', async () => {
    const stream = await openai.responses.create({
      model: 'sonnet',
      input: 'leave me @@fake mode=hang@@',
      stream: true,
    });
    let id = '';
    for await (const ev of stream) {
      if (ev.type === 'response.created') id = ev.response.id;
      break; // leaving the loop aborts the request
    }
    const jobId = id.replace(/^resp_/, '');
    expect(jobId).toMatch(/^claude-/);
    const job = await waitFor(async () => {
      const j = (await fetch(`${url}/jobs/${jobId}`, { headers: { authorization: `Bearer ${key}` } }).then(
        (r) => r.json(),
      )) as { status: string };
      return j.status === 'cancelled' ? j : false;
    }, 10_000);
    expect(job.status).toBe('cancelled');
  });
});

describe('refusals', () => {
  it('state, tools, remote or file input, unknown output formats → BadRequestError naming the field', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ previous_response_id: 'resp_123' }, 'previous_response_id'],
      [{ store: true }, 'store'],
      [{ conversation: 'conv_1' }, 'conversation'],
      [{ tools: [{ type: 'function', name: 'f', parameters: { type: 'object' }, strict: true }] }, 'tools'],
      [{ tool_choice: 'required' }, 'tool_choice'],
      [{ text: { format: { type: 'xml' } } }, 'text.format.type'],
      [
        {
          input: [
            { role: 'user', content: [{ type: 'input_image', image_url: 'https://example.com/a.png' }] },
          ],
        },
        'input[0].content[0].image_url',
      ],
      [
        { input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'file_1' }] }] },
        'input[0].content[0].type',
      ],
      [
        { input: [{ role: 'user', content: [{ type: 'input_image', file_id: 'file_1' }] }] },
        'input[0].content[0].file_id',
      ],
      [{ input: [{ type: 'function_call_output', call_id: 'c', output: 'x' }] }, 'input[0].type'],
      [{ input: [{ role: 'assistant', content: 'last is not the user' }] }, 'input'],
    ];
    for (const [extra, param] of cases) {
      const err = await openai.responses
        .create({
          model: 'sonnet',
          input: 'x',
          ...extra,
        } as OpenAI.Responses.ResponseCreateParamsNonStreaming)
        .catch((e: unknown) => e);
      expect(err, JSON.stringify(extra)).toBeInstanceOf(OpenAI.BadRequestError);
      expect((err as InstanceType<typeof OpenAI.BadRequestError>).error, JSON.stringify(extra)).toMatchObject(
        {
          type: 'invalid_request_error',
          param,
          message: expect.any(String),
        },
      );
    }
    const e = await openai.responses
      .create({ model: 'sonnet', input: 'x', previous_response_id: 'resp_1' })
      .catch((x: unknown) => x);
    expect((e as InstanceType<typeof OpenAI.BadRequestError>).message).toMatch(/keeps no conversation state/);
  });

  it('an unknown model → NotFoundError (model_not_found); a bad key → AuthenticationError', async () => {
    const e1 = await openai.responses.create({ model: 'llama-3', input: 'x' }).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(OpenAI.NotFoundError);
    expect((e1 as InstanceType<typeof OpenAI.NotFoundError>).error).toMatchObject({
      code: 'model_not_found',
      param: 'model',
    });
    const e2 = await openaiFor('cbk_this-key-was-never-issued-0000000000000000')
      .responses.create({ model: 'sonnet', input: 'x' })
      .catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(OpenAI.AuthenticationError);
  });
  it("a key's limit → RateLimitError with Retry-After, streamed or not, before any stream", async () => {
    const limited = openaiFor(await h.createKey(url, 'responses-limited', { maxRequestsPerDay: 1 }));
    await limited.responses.create({ model: 'sonnet', input: 'one' });
    const e1 = await limited.responses.create({ model: 'sonnet', input: 'two' }).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(OpenAI.RateLimitError);
    const rl = e1 as InstanceType<typeof OpenAI.RateLimitError>;
    expect(rl.error).toMatchObject({ type: 'rate_limit_error', code: 'limit_exceeded' });
    expect(Number(rl.headers.get('retry-after'))).toBeGreaterThan(0);
    const e2 = await limited.responses
      .create({ model: 'sonnet', input: 'three', stream: true })
      .catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(OpenAI.RateLimitError);
  });

  it('answers in the OpenAI shape even to a caller sending anthropic-version', async () => {
    const res = await postJson(
      `${url}/v1/responses`,
      { model: 'sonnet', input: 'x', previous_response_id: 'resp_1' },
      { authorization: `Bearer ${key}`, 'anthropic-version': '2023-06-01' },
    );
    expect(res.status).toBe(400);
    expect(res.json).toEqual({
      error: {
        type: 'invalid_request_error',
        param: 'previous_response_id',
        code: 'invalid_request',
        message: expect.stringMatching(/keeps no conversation state/),
      },
    });
    const missing = await postJson(`${url}/v1/responses/resp_1`, {}, { authorization: `Bearer ${key}` });
    expect(missing.status).toBe(404);
    expect(missing.json.error).toMatchObject({ type: 'invalid_request_error', code: 'not_found' });
  });
});

describe('accounting', () => {
  it('bills /v1/responses like /generate: /usage and /admin/logs', async () => {
    const acctKey = await h.createKey(url, 'responses-acct');
    const client = openaiFor(acctKey);
    const a = await client.responses.create({
      model: 'sonnet',
      input: 'bill me @@fake in=100 out=10 cost=0.01@@',
    });
    const b = await client.responses
      .stream({ model: 'sonnet', input: 'bill my stream @@fake in=200 out=20 cost=0.02@@' })
      .finalResponse();
    const usage = await waitFor(async () => {
      const u = await fetch(`${url}/usage`, { headers: { authorization: `Bearer ${acctKey}` } }).then(
        (r) => r.json() as Promise<any>,
      );
      return u.usage.today.requests === 2 && Math.abs(u.usage.today.cost_usd - 0.03) < 1e-9 ? u : false;
    });
    expect(usage.usage.today).toMatchObject({ requests: 2 });
    const logs = await waitFor(async () => {
      const r = await fetch(`${url}/admin/logs?key=responses-acct&limit=10`, {
        headers: { authorization: `Bearer ${ADMIN_KEY}` },
      }).then((x) => x.json() as Promise<any>);
      return r.logs.length === 2 ? r.logs : false;
    });
    expect(logs.map((l: any) => l.job_id).sort()).toEqual(
      [a.id, b.id].map((id) => id.replace(/^resp_/, '')).sort(),
    );
    for (const l of logs) expect(l).toMatchObject({ key: 'responses-acct', status: 'completed' });
  });
});
