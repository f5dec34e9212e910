import { sleep, type Clock } from '../domain/clock.js';
import { BACKENDS, type BackendName } from '../domain/types.js';

/**
 * Closed while the agent account is out of quota: the API said when its usage limit resets, so
 * turns that have not started wait here, still `queued` in the journal (a crash meanwhile loses
 * none of them), and start once the reset time has passed, instead of each failing on the same
 * limit. The process that learns the limit records it in the store; the others close their gate
 * when their heartbeat reads it.
 */
export class UsageGate {
  readonly #clock: Clock;
  #until = 0;
  #reason = '';

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Epoch ms the gate opens at, or null while it is open. */
  get until(): number | null {
    return this.#until > this.#clock.now() ? this.#until : null;
  }

  get reason(): string {
    return this.#reason;
  }

  /** Closes the gate until `until` (epoch ms); a later time extends it, an earlier one is ignored. */
  close(until: number, reason: string): boolean {
    if (until <= this.#clock.now() || until <= this.#until) return false;
    this.#until = until;
    this.#reason = reason;
    return true;
  }

  /** Resolves once the gate is open, or when `signal` aborts. */
  async pass(signal: AbortSignal): Promise<void> {
    for (let until = this.until; until !== null && !signal.aborted; until = this.until) {
      // Sleeps to the reset time itself: the clock's timer fires then, however far it is.
      await sleep(this.#clock, until - this.#clock.now(), signal);
    }
  }
}

/** One gate per backend: Claude's account running out holds no Codex turn back, nor the reverse. */
export class UsageGates {
  readonly #gates: Record<BackendName, UsageGate>;

  constructor(clock: Clock) {
    this.#gates = { claude: new UsageGate(clock), codex: new UsageGate(clock) };
  }

  of(backend: BackendName): UsageGate {
    return this.#gates[backend];
  }

  /** The gates closed now, by backend. */
  closed(): Array<{ backend: BackendName; until: number; reason: string }> {
    const closed: Array<{ backend: BackendName; until: number; reason: string }> = [];
    for (const backend of BACKENDS) {
      const until = this.#gates[backend].until;
      if (until !== null) closed.push({ backend, until, reason: this.#gates[backend].reason });
    }
    return closed;
  }
}
