import type { Logger } from 'pino';
import type { AgentBackend, Runner } from '../../agents/agent.js';
import type { Clock } from '../../domain/clock.js';
import type { BackendName } from '../../domain/types.js';

export interface RunnerPoolOptions {
  /** The backend each session's runners are opened with, by its name. */
  backends: Partial<Record<BackendName, AgentBackend>>;
  /** The backend spares are parked for (new sessions of other backends start cold). */
  spareBackend: AgentBackend;
  /** Agent processes at most, spares and processes still exiting included. */
  maxLive: number;
  /** An idle warm runner hibernates (its process ends) after this long. */
  idleMs: number;
  /** Spare processes to keep parked for new sessions. */
  spares: number;
  /** Environment spares are parked with (a session with other env starts normally). */
  env: NodeJS.ProcessEnv;
  clock: Clock;
  logger: Logger;
}

/** A runner lent to one turn. `release` must be called once the turn is over. */
export interface LentRunner {
  runner: Runner;
  /** How the process was obtained: reused warm, claimed from a spare, or started cold. */
  source: 'warm' | 'spare' | 'cold';
  /** `queued`: turns of the session already waiting; its runner is then kept for the next one. */
  release(outcome: { ok: boolean; epoch: number; agentSessionId: string | null; queued?: number }): void;
}

export interface RunnerPoolStats {
  /** Agent processes that exist now (warm, spares, starting, exiting). */
  live: number;
  busy: number;
  idle: number;
  spares: number;
  /** Turns waiting for a free slot. */
  waiting: number;
  maxLive: number;
}

/**
 * What `RunnerPool.wake` did: `woken` started the process now; `awake` found a fresh warm one;
 * `busy` found it running a turn (or a turn took it over meanwhile); `cold` started nothing, the
 * backend's runners start their process only with a turn. `pid`: the process, when there is one.
 */
export interface PoolWake {
  status: 'woken' | 'awake' | 'busy' | 'cold';
  pid: number | null;
}
