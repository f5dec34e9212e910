import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, TetherError } from '../../errors.js';
import { AppServer, type CodexLaunch } from './app-server.js';
import type { ThreadForkResponse } from './protocol/v2/ThreadForkResponse.js';
import type { ThreadTurnsListResponse } from './protocol/v2/ThreadTurnsListResponse.js';
import type { Turn } from './protocol/v2/Turn.js';
import { ROLLOUT_START, type RolloutMirror } from './rollouts.js';

/*
 * Copies of a Codex thread, made by Codex's own `thread/fork` in a scratch CODEX_HOME that holds
 * only the source's rollout (written back from the store): the source and every tenant's home
 * stay untouched, and the copy's rollout goes straight into the store, from where the runner
 * that resumes it writes it into its tenant's home.
 */

export interface CopyWorkshop {
  launch: CodexLaunch;
  rollouts: RolloutMirror;
  /** Where scratch homes are made (and removed again). */
  scratchRoot: string;
  /** Makes a scratch home as every home is made (the operator's config.toml). */
  prepareHome(home: string): void;
  overrides(env: NodeJS.ProcessEnv): string[];
}

/** Which turns of the source the copy keeps: all, the first `keepPrompts` prompts, or all but the last exchange. */
type Cut = { keepPrompts: number | null } | { rewind: string };

/**
 * The copy's thread id; for a rewind, also null (nothing came before the last prompt) or the
 * source's own id (its last prompt is another: the replaced turn never reached Codex).
 */
export async function copyThread(shop: CopyWorkshop, threadId: string, env: NodeJS.ProcessEnv, cut: Cut): Promise<string | null> {
  const home = join(shop.scratchRoot, randomUUID());
  let server: AppServer | null = null;
  try {
    shop.prepareHome(home);
    if (!(await shop.rollouts.restore(threadId, home))) throw new TetherError(ErrorCode.INVALID_INPUT, `the conversation ${threadId} has no rollout to copy`);
    const scratchEnv = { ...env, CODEX_HOME: home };
    server = await AppServer.start(shop.launch, scratchEnv, shop.overrides(scratchEnv));
    const upTo = await lastKeptTurn(server, threadId, cut);
    if (upTo === 'none') return null;
    if (upTo === 'source') return threadId;
    const forked = await server.request<ThreadForkResponse>('thread/fork', { threadId, ...(upTo ? { lastTurnId: upTo } : {}), excludeTurns: true });
    if (!forked.thread.path) throw new TetherError(ErrorCode.AGENT_FAILED, 'codex forked the thread without a rollout');
    await shop.rollouts.sync(forked.thread.id, forked.thread.path, ROLLOUT_START);
    return forked.thread.id;
  } finally {
    await server?.close();
    rmSync(home, { recursive: true, force: true, maxRetries: 3 });
  }
}

/** The id of the last turn the copy keeps (null: all of them), or what a rewind returns instead of a copy. */
async function lastKeptTurn(server: AppServer, threadId: string, cut: Cut): Promise<string | null | 'none' | 'source'> {
  if ('keepPrompts' in cut && cut.keepPrompts === null) return null;
  await server.request('thread/resume', { threadId, excludeTurns: true });
  const turns = await allTurns(server, threadId);
  const prompts = turns.map((t, i) => ({ turn: t, at: i, text: promptOf(t) })).filter((p) => p.text !== null);
  if ('keepPrompts' in cut) {
    const keep = cut.keepPrompts!;
    if (keep < 1) throw new TetherError(ErrorCode.INVALID_INPUT, 'a fork keeps at least the first turn');
    if (keep >= prompts.length) return null;
    return turns[prompts[keep]!.at - 1]!.id;
  }
  const last = prompts.at(-1);
  // The agent's copy of the prompt may open with a recap Tether put before it.
  if (!last || !last.text!.includes(cut.rewind)) return 'source';
  if (last.at === 0) return 'none';
  return turns[last.at - 1]!.id;
}

async function allTurns(server: AppServer, threadId: string): Promise<Turn[]> {
  const turns: Turn[] = [];
  let cursor: string | null = null;
  do {
    const page: ThreadTurnsListResponse = await server.request('thread/turns/list', { threadId, sortDirection: 'asc', itemsView: 'full', ...(cursor ? { cursor } : {}) });
    turns.push(...page.data);
    cursor = page.nextCursor;
  } while (cursor);
  return turns;
}

/** The text a person sent in a turn, or null for a turn without one (a compaction). */
function promptOf(turn: Turn): string | null {
  const texts: string[] = [];
  for (const item of turn.items) {
    if (item.type !== 'userMessage') continue;
    for (const part of item.content) if (part.type === 'text') texts.push(part.text);
  }
  return texts.length > 0 ? texts.join('\n') : null;
}
