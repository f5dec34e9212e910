import { forkSession } from '@anthropic-ai/claude-agent-sdk';
import type { TranscriptEntry, TranscriptMirror } from '../../store/ports/transcripts.js';
import { ErrorCode, TetherError } from '../../errors.js';
import { checkResumable, promptEntries, promptText, sessionStoreOver } from './transcripts.js';

/** The conversation a copy is made of: its id, and where and how its agent runs. */
export interface CopySource {
  agentSessionId: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
}

/*
 * Copies of a conversation, made by the Agent SDK's `forkSession` over the store's mirror, so a
 * copy is made on any node whatever its HOME, and the source is never touched.
 */

/** A copy keeping the first `keepPrompts` user prompts with what followed each, or all of it (null). */
export async function forkConversation(archive: TranscriptMirror, source: CopySource, keepPrompts: number | null): Promise<string> {
  await ensureTranscript(archive, source, 'fork');
  if (keepPrompts === null) return copy(archive, source, undefined);
  if (keepPrompts < 1) throw new TetherError(ErrorCode.INVALID_INPUT, 'a fork keeps at least the first turn');
  const prompts = await promptsOf(archive, source);
  return copy(archive, source, keepPrompts < prompts.length ? prompts[keepPrompts] : undefined);
}

/**
 * The conversation without its last exchange when that exchange's prompt carries `prompt`: a copy
 * cut just before it, null when nothing came before it, or the source itself when its last
 * prompt is another (the replaced turn never reached the agent).
 */
export async function rewindConversation(archive: TranscriptMirror, source: CopySource, prompt: string): Promise<string | null> {
  await ensureTranscript(archive, source, 'regenerate from');
  const prompts = await promptsOf(archive, source);
  const last = prompts.at(-1);
  // The agent's copy of the prompt may open with a recap Tether put before it.
  if (!last || !promptText(last).includes(prompt)) return source.agentSessionId;
  if (prompts.length === 1 || !last.parentUuid) return null;
  return copy(archive, source, last);
}

/** Makes the store hold the whole transcript (completing it from disk), or refuses. */
async function ensureTranscript(archive: TranscriptMirror, source: CopySource, what: string): Promise<void> {
  if ((await checkResumable(archive, source.agentSessionId, source.cwd, source.env)) === 'missing') {
    throw new TetherError(ErrorCode.INVALID_INPUT, `the conversation ${source.agentSessionId} has no transcript to ${what}`);
  }
}

/** The conversation's user prompts, in order. */
async function promptsOf(archive: TranscriptMirror, source: CopySource): Promise<TranscriptEntry[]> {
  return promptEntries((await archive.loadTranscript({ agentSessionId: source.agentSessionId })) ?? []);
}

/** A copy of the whole conversation, or of what came before the prompt `cutBefore`. */
async function copy(archive: TranscriptMirror, source: CopySource, cutBefore: TranscriptEntry | undefined): Promise<string> {
  const forked = await forkSession(source.agentSessionId, {
    sessionStore: sessionStoreOver(archive),
    dir: source.cwd,
    ...(cutBefore ? { upToMessageId: String(cutBefore.parentUuid) } : {}),
  });
  return forked.sessionId;
}
