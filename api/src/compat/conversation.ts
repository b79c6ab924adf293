/**
 * Rendering a chat conversation (OpenAI `messages`, Anthropic `system` + `messages`) into the one
 * system prompt and one user prompt a CLI run takes.
 *
 * - System (and OpenAI developer) messages, wherever they stand, are joined in order, separated
 *   by a blank line, into the system prompt.
 * - A conversation of a single user message is sent as that message's text, unchanged.
 * - Otherwise every turn is written as `<turn role="user">…</turn>` or
 *   `<turn role="assistant">…</turn>`, oldest first, after a line saying what follows; the last
 *   turn is the user's message to answer. Inside a turn `&`, `<` and `>` are written `&amp;`,
 *   `&lt;` and `&gt;`, so no message can close its turn or open another.
 * - The last message must be the user's (400 otherwise); a rendered prompt over MAX_PROMPT_CHARS
 *   is refused (400), never truncated.
 */
import { BridgeError, MAX_PROMPT_CHARS } from '@cli-bridge/shared';

export type TurnRole = 'user' | 'assistant';

export interface Turn {
  role: TurnRole;
  text: string;
}

export interface RenderedConversation {
  systemPrompt: string;
  userPrompt: string;
}

export const CONVERSATION_PREAMBLE =
  'The conversation so far, oldest turn first. Answer the last user turn as the assistant; ' +
  'write only your reply, without any turn tags.';

export function escapeTurn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** `param` names the request field in errors (`messages`). */
export function renderConversation(
  system: string[],
  turns: Turn[],
  param = 'messages',
): RenderedConversation {
  const last = turns.at(-1);
  if (!last)
    throw new BridgeError('invalid_request', `${param} must hold at least one user message`, {
      details: { param },
    });
  if (last.role !== 'user') {
    throw new BridgeError('invalid_request', `The last message of ${param} must be from the user`, {
      details: { param },
    });
  }
  if (last.text.trim() === '') {
    throw new BridgeError('invalid_request', `The last user message of ${param} must not be empty`, {
      details: { param },
    });
  }
  const systemPrompt = system.filter((s) => s !== '').join('\n\n');
  const userPrompt =
    turns.length === 1
      ? last.text
      : [
          CONVERSATION_PREAMBLE,
          '',
          ...turns.map((t) => `<turn role="${t.role}">${escapeTurn(t.text)}</turn>`),
        ].join('\n');
  for (const [name, text] of [
    ['system prompt', systemPrompt],
    ['conversation', userPrompt],
  ] as const) {
    if (text.length > MAX_PROMPT_CHARS) {
      throw new BridgeError(
        'invalid_request',
        `The rendered ${name} is ${text.length} characters; at most ${MAX_PROMPT_CHARS} are allowed`,
        {
          details: { param },
        },
      );
    }
  }
  return { systemPrompt, userPrompt };
}

/** A rough token count of a rendered conversation: one token per 4 characters, rounded up. */
export function estimateTokens(c: RenderedConversation): number {
  return Math.ceil((c.systemPrompt.length + c.userPrompt.length) / 4);
}
