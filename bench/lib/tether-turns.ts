import type { Tether } from '../../src/broker/api.js';
import type { TurnResult, TurnStartedEvent } from '../../src/domain/events.js';

export type RunnerKind = TurnStartedEvent['runner'];

interface Stamps {
  runner?: RunnerKind;
  queued?: number;
  started?: number;
  firstDelta?: number;
  completed?: number;
}

/** Where a turn's time went, from its events (ms). */
export interface TurnPhases {
  /** send → turn.queued: validation, preflight, get-or-create + journal (one transaction). */
  accept: number;
  /** turn.queued → turn.started: the lease (one transaction) and a runner from the pool. */
  start: number;
  /** turn.started → first text delta: the agent until it streams. */
  firstDelta: number;
  /** first text delta → turn.completed: the rest of the agent's turn, then finishTurn (one transaction). */
  finish: number;
  /** turn.completed → `result` resolved in the caller. */
  deliver: number;
}

/**
 * Remembers where each turn's agent process came from (turn.started `runner`) and when its
 * events passed, by turn id, through a bus listener: nothing sits between the caller and `result`.
 */
export class RunnerLog {
  readonly #byTurn = new Map<string, Stamps>();
  readonly #off: () => void;

  constructor(tether: Tether) {
    this.#off = tether.on('*', (event) => {
      if (event.turnId === undefined) return;
      const now = performance.now();
      let s = this.#byTurn.get(event.turnId);
      if (!s) this.#byTurn.set(event.turnId, (s = {}));
      if (event.type === 'turn.queued') s.queued = now;
      else if (event.type === 'turn.started') {
        s.started = now;
        s.runner = event.runner;
      } else if (event.type === 'text.delta') s.firstDelta ??= now;
      else if (event.type === 'turn.completed') s.completed = now;
    });
  }

  runnerOf(turnId: string): RunnerKind | undefined {
    return this.#byTurn.get(turnId)?.runner;
  }

  phases(turnId: string, sentAt: number, resolvedAt: number): TurnPhases | null {
    const s = this.#byTurn.get(turnId);
    if (!s || s.queued === undefined || s.started === undefined || s.completed === undefined) return null;
    const firstDelta = s.firstDelta ?? s.completed;
    return {
      accept: s.queued - sentAt,
      start: s.started - s.queued,
      firstDelta: firstDelta - s.started,
      finish: s.completed - firstDelta,
      deliver: resolvedAt - s.completed,
    };
  }

  stop(): void {
    this.#off();
  }
}

export interface TimedTurn {
  ms: number;
  runner: RunnerKind | undefined;
  phases: TurnPhases | null;
  result: TurnResult;
}

/** One turn through Tether, timed from `send` to its `result`. */
export async function timedTurn(tether: Tether, log: RunnerLog, key: string, prompt: string): Promise<TimedTurn> {
  const started = performance.now();
  const handle = tether.send(key, prompt);
  const result = await handle.result;
  const resolved = performance.now();
  const { turnId } = await handle.accepted;
  return { ms: resolved - started, runner: log.runnerOf(turnId), phases: log.phases(turnId, started, resolved), result };
}

/** Collects phase timings and summarizes each phase's median. */
export class PhaseLog {
  readonly series: Record<keyof TurnPhases, number[]> = { accept: [], start: [], firstDelta: [], finish: [], deliver: [] };

  add(phases: TurnPhases | null): void {
    if (!phases) return;
    for (const k of Object.keys(this.series) as Array<keyof TurnPhases>) this.series[k].push(phases[k]);
  }
}

/** Runs `sides` in turn, `n` rounds, rotating which goes first so none always leads. */
export async function rotate(n: number, sides: Array<(i: number) => Promise<void>>): Promise<void> {
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < sides.length; k++) await sides[(k + i) % sides.length]!(i);
  }
}

/** Runs `a` and `b` alternately, `n` times each, in ABBA order so neither side always goes first. */
export async function alternate(n: number, a: (i: number) => Promise<void>, b: (i: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < n; i++) {
    if (i % 2 === 0) {
      await a(i);
      await b(i);
    } else {
      await b(i);
      await a(i);
    }
  }
}

/** Median of the ratios of the i-th samples of two series measured side by side. */
export function pairedRatios(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.min(a.length, b.length);
  return Array.from({ length: n }, (_, i) => a[i]! / b[i]!);
}
