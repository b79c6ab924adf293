/**
 * Async load for the Redis resilience tests: clients submitting `POST /jobs` back to back while
 * something is done to Redis, and the check that every accepted job then ends.
 */
import { postJson } from './harness.js';
import { waitFor } from './records.js';

export interface Answer {
  status: number;
  /** The job id of an accepted (202) submit. */
  id?: string;
  /** When the submit was sent (epoch ms). */
  at: number;
  /** How long it took (ms). */
  ms: number;
}

export interface AsyncLoad {
  /** Every answer so far, in arrival order. */
  readonly answers: Answer[];
  accepted(): Answer[];
  /** Stops the clients and waits for their last answers. */
  stop(): Promise<void>;
}

/**
 * `clients` loops each submitting a Claude job (`label-N`, 100 ms of fake work); a refusal is
 * followed by a 20 ms pause, so an outage is not a busy loop of instant 503s.
 */
export function startAsyncLoad(
  apiUrl: string,
  auth: Record<string, string>,
  label: string,
  clients = 4,
): AsyncLoad {
  const answers: Answer[] = [];
  let loading = true;
  let n = 0;
  const client = async () => {
    while (loading) {
      const at = Date.now();
      const res = await postJson(
        `${apiUrl}/jobs`,
        { provider: 'claude', systemPrompt: '', userPrompt: `${label}-${n++} @@fake delay_ms=100@@` },
        auth,
      );
      answers.push({ status: res.status, id: res.json?.id, at, ms: Date.now() - at });
      if (res.status !== 202) await new Promise((r) => setTimeout(r, 20));
    }
  };
  const running = Array.from({ length: clients }, client);
  return {
    answers,
    accepted: () => answers.filter((a) => a.status === 202),
    async stop() {
      loading = false;
      await Promise.all(running);
    },
  };
}

/** Waits until every job of `ids` has ended; returns their final statuses, in order. */
export async function jobsEnded(
  apiUrl: string,
  auth: Record<string, string>,
  ids: string[],
  timeoutMs: number,
): Promise<string[]> {
  return waitFor(
    async () => {
      const views = await Promise.all(
        ids.map(
          async (id) =>
            ((await (await fetch(`${apiUrl}/jobs/${id}`, { headers: auth })).json()) as { status: string })
              .status,
        ),
      );
      return views.every((s) => ['completed', 'failed', 'cancelled'].includes(s)) ? views : undefined;
    },
    timeoutMs,
    'every accepted job to end',
  );
}
