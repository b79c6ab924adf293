import { compileOutputCheck, type GenerateJobData, type GenerateResult } from '@cli-bridge/shared';
import { CliFailure } from './cli-failure.js';

/**
 * A structured-output job's answer must be JSON matching its schema (or one JSON object): the
 * CLI's own flag asks for that, and this checks it, whichever CLI answered. A mismatch fails the
 * job (502 `provider_error`, the run still billed): an answer the caller's parser would reject
 * is never passed off as a success.
 */
export function checkStructuredAnswer(data: Pick<GenerateJobData, 'output'>, result: GenerateResult): void {
  if (!data.output) return;
  const problem = compileOutputCheck(data.output)(result.text);
  if (problem) {
    throw new CliFailure('fatal', `The model's structured answer was rejected: ${problem}`, {
      usage: result.usage,
      costMicros: result.cost_micros,
    });
  }
}
