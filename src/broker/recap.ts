import type { SessionRecord, TurnRecord } from '../domain/types.js';
import { standingTurns } from '../domain/history.js';
import type { Store } from '../store/store.js';

/** Exchanges a recap carries at most, newest kept. */
const MAX_EXCHANGES = 10;
/** Characters kept of each prompt or reply, and of the whole recap. */
const MAX_SIDE_CHARS = 2_000;
const MAX_RECAP_CHARS = 12_000;

/**
 * The opening of a conversation that replaces one the agent lost (its transcript gone from the
 * store and from disk): the session's last exchanges, from Tether's journal, so the agent picks
 * the thread up instead of starting blank. It is part of the new conversation's first message,
 * and so of its transcript: later resumes keep it. `before`: the turn it opens (its own and later
 * turns are left out), or null for a process woken ahead of the next turn.
 */
export async function recapFromJournal(store: Store, session: SessionRecord, before: TurnRecord | null): Promise<string> {
  // Without a turn (a process woken ahead of one), every turn of the session came before.
  const last = before ? before.seq - 1 : session.turnSeq;
  const turns = await store.listTurns({ tenant: session.tenant, key: session.key, afterSeq: Math.max(0, last - MAX_EXCHANGES * 3) });
  return recapOf(
    turns.filter((t) => t.sessionId === session.id && t.seq <= last && t.id !== before?.regenerates),
    "[Tether: this conversation's history could not be restored, so it continues in a new agent conversation.",
  );
}

/**
 * The opening of a generation that replaced one whose context filled up (closed for `context`):
 * a soft reset keeps the last exchanges instead of dropping everything. Empty otherwise.
 */
export async function recapOfPreviousGeneration(store: Store, session: SessionRecord, before: TurnRecord): Promise<string> {
  if (session.generation <= 1 || session.agentSessionId !== null) return '';
  const turns = await store.listTurns({ tenant: session.tenant, key: session.key, afterSeq: Math.max(0, before.seq - 1 - MAX_EXCHANGES * 3) });
  const earlier = turns.filter((t) => t.sessionId !== session.id && t.seq < before.seq);
  const previousId = earlier.at(-1)?.sessionId;
  if (!previousId) return '';
  const previous = await store.getSession(previousId);
  if (previous?.closeReason !== 'context') return '';
  return recapOf(
    earlier.filter((t) => t.sessionId === previousId),
    "[Tether: the previous conversation filled the model's context window, so this one starts fresh.",
  );
}

function recapOf(turns: TurnRecord[], header: string): string {
  const exchanges = standingTurns(turns)
    .filter((t) => t.status === 'succeeded' && t.text !== null && !t.prompt.startsWith('/'))
    .slice(-MAX_EXCHANGES)
    .map((t) => `User: ${clip(t.prompt)}\nAssistant: ${clip(t.text ?? '')}`);
  // Oldest go first when the whole is too long.
  while (exchanges.length > 0 && exchanges.join('\n\n').length > MAX_RECAP_CHARS) exchanges.shift();
  if (exchanges.length === 0) return `${header} No earlier exchange is on record.]`;
  return `${header} Its last exchanges, from Tether's journal:]\n\n${exchanges.join('\n\n')}\n\n[End of the recap. The new message follows.]`;
}

function clip(text: string): string {
  return text.length <= MAX_SIDE_CHARS ? text : `${text.slice(0, MAX_SIDE_CHARS)} […]`;
}
