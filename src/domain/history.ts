import type { TurnRecord } from './types.js';

/**
 * The turns whose exchanges still stand in the agent's conversation. A turn that `regenerate`
 * replaced stays in the journal, but once its replacement has started the conversation no
 * longer holds it: forks, exports and recaps leave it out.
 */
export function standingTurns<T extends Pick<TurnRecord, 'id' | 'status' | 'regenerates'>>(turns: readonly T[]): T[] {
  const replaced = new Set<string>();
  for (const t of turns) if (t.regenerates !== null && t.status !== 'queued') replaced.add(t.regenerates);
  return turns.filter((t) => !replaced.has(t.id));
}
