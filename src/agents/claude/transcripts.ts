import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { SessionKey, SessionStore, SessionStoreEntry } from '@anthropic-ai/claude-agent-sdk';
import type { TranscriptEntry, TranscriptMirror } from '../../store/ports/transcripts.js';

/**
 * The Agent SDK's `SessionStore` over Tether's transcript mirror (the store). The SDK calls
 * `append` with each batch Claude Code wrote to its local transcript (the last batch of a turn
 * before the turn's result reaches us), and `load` once before a process resumes a conversation,
 * so a resume reads Tether's copy and never depends on what is left under ~/.claude.
 *
 * Transcripts are keyed by conversation id alone: the SDK's project key is derived from the cwd,
 * and a session whose directory moved must still find its conversation.
 */
export function sessionStoreOver(archive: TranscriptMirror): SessionStore {
  const ref = (key: SessionKey) => (key.subpath ? { agentSessionId: key.sessionId, subpath: key.subpath } : { agentSessionId: key.sessionId });
  return {
    append: (key, entries) => archive.appendTranscript(ref(key), key.projectKey, entries as TranscriptEntry[]),
    load: async (key) => (await archive.loadTranscript(ref(key))) as SessionStoreEntry[] | null,
    listSessions: async (projectKey) => (await archive.listTranscripts(projectKey)).map((t) => ({ sessionId: t.agentSessionId, mtime: t.mtime })),
    listSubkeys: (key) => archive.listTranscriptSubpaths(key.sessionId),
    delete: async (key) => {
      await archive.deleteTranscript(ref(key));
    },
  };
}

/** Claude Code's configuration directory for an agent environment. */
export function claudeConfigDir(env: NodeJS.ProcessEnv): string {
  return env.CLAUDE_CONFIG_DIR ?? join(env.HOME ?? homedir(), '.claude');
}

/**
 * The agent environment, with CLAUDE_CONFIG_DIR spelled out when the agent's HOME is not this
 * process's: the SDK locates the transcript files it mirrors under the *parent's* idea of the
 * config directory, and drops every batch when the two disagree.
 */
export function withConfigDir(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (env.CLAUDE_CONFIG_DIR || !env.HOME || env.HOME === homedir()) return env;
  return { ...env, CLAUDE_CONFIG_DIR: join(env.HOME, '.claude') };
}

/** Claude Code's project directory name for a cwd (every character but [A-Za-z0-9] becomes '-'). */
function projectDirName(cwd: string): string | null {
  const name = cwd.replace(/[^a-zA-Z0-9]/g, '-');
  // Longer names are truncated and hashed by Claude Code; not worth mirroring that rule here.
  return name.length <= 200 ? name : null;
}

/** Where Claude Code keeps the local transcript of a conversation started in `cwd`. */
export function localTranscriptPath(agentSessionId: string, cwd: string, env: NodeJS.ProcessEnv): string | null {
  const dir = projectDirName(cwd);
  return dir === null ? null : join(claudeConfigDir(env), 'projects', dir, `${agentSessionId}.jsonl`);
}

export type Resumability = 'mirror' | 'local' | 'missing';

/**
 * Whether a conversation can be resumed, and from where. The local file and the mirror are
 * reconciled on the way, because the SDK resumes from the mirror whenever it has the
 * conversation: a conversation found only on disk (begun before the mirror, or with the mirror
 * off) is copied in whole, and entries only the local file has (a turn cut off by a crash before
 * its batch was mirrored, or a batch whose mirror write failed) are added, so nothing the agent
 * wrote locally is lost by resuming from the store.
 */
export async function checkResumable(
  archive: TranscriptMirror | null,
  agentSessionId: string,
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<Resumability> {
  const mirrored = archive ? await archive.loadTranscript({ agentSessionId }) : null;
  const path = localTranscriptPath(agentSessionId, cwd, env);
  const local = path !== null && existsSync(path) ? parseJsonl(readFileSync(path, 'utf8')) : null;
  if (archive && local && local.length > 0) {
    const known = new Set((mirrored ?? []).map((e) => e.uuid));
    // Lines without a uuid (titles, tags) cannot be matched, so only a whole copy takes them.
    const missing = mirrored === null ? local : local.filter((e) => typeof e.uuid === 'string' && !known.has(e.uuid));
    if (missing.length > 0) await archive.appendTranscript({ agentSessionId }, projectDirName(cwd) ?? cwd, missing);
    return mirrored === null ? 'local' : 'mirror';
  }
  if (mirrored !== null) return 'mirror';
  return local !== null ? 'local' : 'missing';
}

/** The lines of a JSONL transcript; a torn last line (a crash mid-write) is skipped. */
function parseJsonl(text: string): TranscriptEntry[] {
  const entries: TranscriptEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const value = JSON.parse(line) as unknown;
      if (value && typeof value === 'object' && typeof (value as { type?: unknown }).type === 'string') entries.push(value as TranscriptEntry);
    } catch {
      // torn write
    }
  }
  return entries;
}

/**
 * The entries that open each user prompt of a transcript, in order: user lines with a `promptId`
 * that are not meta lines or sidechains, the first line of each prompt. A turn's prompt starts
 * where the previous turn's last line (its `parentUuid`) ends.
 */
export function promptEntries(entries: TranscriptEntry[]): TranscriptEntry[] {
  const seen = new Set<unknown>();
  return entries.filter((e) => {
    if (e.type !== 'user' || !e.promptId || e.isMeta || e.isSidechain || seen.has(e.promptId)) return false;
    seen.add(e.promptId);
    return true;
  });
}

/** The text of a user prompt entry (a string, or the text blocks of its content). */
export function promptText(entry: TranscriptEntry): string {
  const content = (entry.message as { content?: unknown } | undefined)?.content;
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((block: unknown) => (block && typeof block === 'object' && (block as { type?: unknown }).type === 'text' ? String((block as { text?: unknown }).text ?? '') : ''))
    .join('');
}

/** Claude Code's answer to a resume of a conversation it cannot find. */
export function isConversationMissing(text: string): boolean {
  return text.includes('No conversation found');
}
