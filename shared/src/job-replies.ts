/**
 * The end of a job, told directly to the API process that waits for it synchronously: the worker
 * PUBLISHes it on that process's reply channel (`keys.replyChannel`, named in the job's
 * `replyTo`) in the same MULTI as the job's final events, right after settlement. The waiting
 * process hears it one hop before BullMQ's own completion (the processor's return, BullMQ's
 * `moveToFinished`, the QueueEvents stream read), which remains the fallback: a reply lost while
 * the subscriber reconnects delays the answer, it never loses it.
 */
import { encodeFailure } from './jobs.js';
import type { ErrorType } from './errors.js';

export type JobReply =
  /** `value`: what the processor returns (the job's BullMQ return value). */
  | { jobId: string; status: 'completed'; value: unknown }
  /** `reason`: the job's BullMQ failedReason (`encodeFailure`). */
  | { jobId: string; status: 'failed'; reason: string };

export function completedReply(jobId: string, value: unknown): string {
  return JSON.stringify({ jobId, status: 'completed', value } satisfies JobReply);
}

export function failedReply(jobId: string, error: { type: ErrorType; message: string }): string {
  return JSON.stringify({
    jobId,
    status: 'failed',
    reason: encodeFailure(error.type, error.message),
  } satisfies JobReply);
}

/** A reply as published, or undefined for anything else (never throws). */
export function parseJobReply(message: string): JobReply | undefined {
  let r: unknown;
  try {
    r = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (typeof r !== 'object' || r === null) return undefined;
  const { jobId, status } = r as Record<string, unknown>;
  if (typeof jobId !== 'string') return undefined;
  if (status === 'completed') return { jobId, status, value: (r as { value?: unknown }).value };
  const reason = (r as { reason?: unknown }).reason;
  if (status === 'failed' && typeof reason === 'string') return { jobId, status, reason };
  return undefined;
}
