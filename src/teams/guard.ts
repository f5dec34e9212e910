import { ErrorCode, TetherError } from '../errors.js';

/** A conversation as the guard knows it: tenant and key. */
export interface ConversationRef {
  tenant: string;
  key: string;
}

export interface AskGuardLimits {
  /** How deep a chain of asks may go (A asks B, whose turn asks C, …): TETHER_TEAMS_MAX_DEPTH. */
  maxDepth: number;
  /** Asks one team may have waiting at once: TETHER_TEAMS_MAX_ASKS. */
  maxAsks: number;
}

/** One admitted ask; `end()` once its wait is over (answered, timed out or failed). Idempotent. */
export interface AskPass {
  /** 1 for an ask from outside any team turn, 2 for an ask made inside a turn that was asked, … */
  readonly depth: number;
  end(): void;
}

/**
 * The wait-for graph of team asks in this process, so that asks cannot deadlock.
 *
 * An ask holds its caller's turn open until the asked conversation answers, and a conversation
 * runs one turn at a time. So if A's turn waits on B, and B's turn then asks A, B's ask queues
 * behind A's waiting turn, which waits on B: neither ever ends. The guard keeps, for each waiting
 * caller conversation, the conversations it waits on, and refuses an ask whose target already
 * waits (directly or through others) on the caller: ASK_LOOP, at once, instead of a hang.
 *
 * The graph spans the asks of this process: the team agents Tether runs call their tools in
 * process, so every edge between them is seen. An ask that leaves for another daemon (a remote
 * team) starts a new graph there; such a cycle ends by the asks' timeouts, not by this check.
 */
export class AskGuard {
  readonly #limits: AskGuardLimits;
  /** caller conversation → the conversations its turn waits on (with counts: asks may repeat). */
  readonly #waits = new Map<string, Map<string, number>>();
  /** A conversation being asked → the depth it was asked at (its turn's asks go one deeper). */
  readonly #depths = new Map<string, number[]>();
  /** Asks waiting per asking team. */
  readonly #perTeam = new Map<string, number>();

  constructor(limits: AskGuardLimits) {
    this.#limits = limits;
  }

  /**
   * Admits an ask from team `fromTeam` to `target`, made inside the turn of `caller` (null when
   * the caller is not a conversation of this process: a person's agent through `tether mcp`).
   * Throws ASK_LOOP for an ask that would wait on itself, LIMIT_REACHED past a bound.
   */
  admit(fromTeam: string, caller: ConversationRef | null, target: ConversationRef): AskPass {
    const from = caller ? id(caller) : null;
    const to = id(target);
    if (from !== null && (from === to || this.#reaches(to, from))) {
      throw new TetherError(
        ErrorCode.ASK_LOOP,
        `"${target.key}" is waiting, through the asks in progress, on this conversation's own turn ("${caller!.key}"); ` +
          'asking it would wait forever. Answer with what you have, or use team_tell (it does not wait).',
        { details: { key: target.key, caller: caller!.key } },
      );
    }
    const depth = (from !== null ? (this.#depths.get(from)?.at(-1) ?? 0) : 0) + 1;
    if (depth > this.#limits.maxDepth) {
      throw new TetherError(
        ErrorCode.LIMIT_REACHED,
        `this ask would be ${depth} asks deep; the limit is ${this.#limits.maxDepth} (TETHER_TEAMS_MAX_DEPTH). Answer from what you know instead of asking further.`,
        { details: { depth, maxDepth: this.#limits.maxDepth } },
      );
    }
    const waiting = this.#perTeam.get(fromTeam) ?? 0;
    if (waiting >= this.#limits.maxAsks) {
      throw new TetherError(
        ErrorCode.LIMIT_REACHED,
        `team "${fromTeam}" already has ${waiting} asks waiting; the limit is ${this.#limits.maxAsks} (TETHER_TEAMS_MAX_ASKS). Wait for one to answer, or use team_tell.`,
        { details: { team: fromTeam, asks: waiting, maxAsks: this.#limits.maxAsks } },
      );
    }
    this.#perTeam.set(fromTeam, waiting + 1);
    if (from !== null) bump(this.#waits, from, to, 1);
    const depths = this.#depths.get(to) ?? [];
    depths.push(depth);
    this.#depths.set(to, depths);
    let ended = false;
    return {
      depth,
      end: () => {
        if (ended) return;
        ended = true;
        const left = (this.#perTeam.get(fromTeam) ?? 1) - 1;
        if (left > 0) this.#perTeam.set(fromTeam, left);
        else this.#perTeam.delete(fromTeam);
        if (from !== null) bump(this.#waits, from, to, -1);
        const list = this.#depths.get(to);
        const at = list?.indexOf(depth) ?? -1;
        if (list && at >= 0) list.splice(at, 1);
        if (list?.length === 0) this.#depths.delete(to);
      },
    };
  }

  /** Asks waiting now, by asking team (for status and tests). */
  waiting(): Record<string, number> {
    return Object.fromEntries(this.#perTeam);
  }

  /** Whether `from` waits, through any chain of asks, on `to`. */
  #reaches(from: string, to: string): boolean {
    const seen = new Set<string>([from]);
    const stack = [from];
    while (stack.length > 0) {
      for (const next of this.#waits.get(stack.pop()!)?.keys() ?? []) {
        if (next === to) return true;
        if (!seen.has(next)) {
          seen.add(next);
          stack.push(next);
        }
      }
    }
    return false;
  }
}

function id(ref: ConversationRef): string {
  return `${ref.tenant}\u0000${ref.key}`;
}

function bump(graph: Map<string, Map<string, number>>, from: string, to: string, by: number): void {
  const edges = graph.get(from) ?? new Map<string, number>();
  const count = (edges.get(to) ?? 0) + by;
  if (count > 0) edges.set(to, count);
  else edges.delete(to);
  if (edges.size > 0) graph.set(from, edges);
  else graph.delete(from);
}
