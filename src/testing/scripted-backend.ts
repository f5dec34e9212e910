import { randomUUID } from 'node:crypto';
import type { AgentBackend, AgentEvent, AgentResult, Runner, RunnerSettings, RunnerSpec, Spare } from '../agents/agent.js';
import { ZERO_USAGE, type ContextInfo, type TurnError, type Usage } from '../domain/types.js';
import { ErrorCode } from '../errors.js';

/** What a script is told about the turn it plays. */
export interface ScriptTurn {
  /** The prompt as the agent gets it (a recap may precede the caller's text). */
  prompt: string;
  /** The conversation the turn runs in, and its earlier prompts (this one not yet among them). */
  agentSessionId: string;
  history: readonly string[];
  /** True when the conversation existed before this runner (a resume), false for a new one. */
  resumed: boolean;
  /** The runner playing the turn (its number: the order runners were opened in). */
  runner: ScriptedRunner;
  /** Aborted when the turn is interrupted; a script that waits should wait on it too. */
  signal: AbortSignal;
}

/** How a turn ends, returned by a script: the reply, or the error the agent reports. */
export interface ScriptOutcome {
  /** Default: the texts of the `message` events the script yielded, joined. */
  text?: string;
  error?: TurnError;
  usage?: Partial<Usage>;
  /** Context tokens after the turn (default 1,000 of a 200,000 window). */
  contextTokens?: number;
  /** A usage limit: when it resets (epoch ms). */
  retryAt?: number;
}

/**
 * One turn of the scripted agent: yields what the agent streams (text deltas, messages, tool
 * calls; not `init` or `result`, which the runner adds) and returns how it ends.
 */
export type Script = (turn: ScriptTurn) => AsyncGenerator<AgentEvent, ScriptOutcome | void, undefined>;

export interface ScriptedBackendOptions {
  /** Plays every turn; default `echoScript`: a message `Reply #<n>: <prompt>`, n counting the conversation's turns. */
  script?: Script;
  /** Park spares (`prewarm`). Default false. */
  spares?: boolean;
  /** Conversations to share with other backends (several Tethers standing for nodes of one fleet). */
  conversations?: Map<string, string[]>;
  contextWindow?: number;
  /**
   * How a runner's `warm` (a wake) starts its "process": by default at once; a function to hold
   * or fail it; false for runners without `warm`, as a backend whose process starts only with a
   * turn (Codex).
   */
  warm?: false | ((runner: ScriptedRunner) => Promise<void>);
}

const WINDOW = 200_000;

/** The default script: answers like the mock Messages API, `Reply #<n>: <prompt>`. */
export const echoScript: Script = async function* (turn) {
  yield { type: 'message', text: `Reply #${turn.history.length + 1}: ${turn.prompt}` };
};

/** A script whose turns run until they are interrupted (a long task, a hung agent). */
// eslint-disable-next-line require-yield -- it streams nothing: it only waits.
export const untilInterrupted: Script = async function* (turn) {
  await new Promise((resolve) => (turn.signal.aborted ? resolve(undefined) : turn.signal.addEventListener('abort', resolve, { once: true })));
};

/**
 * An agent backend played by a script, for fast tests of everything above the agent port — the
 * broker's turns, leases, queueing and runner pool — with no process and no model. Conversations
 * are kept in memory (prompts in order), so continuity, forks and rewinds can be asserted. The
 * real agent is tested end to end against the mock Messages API (`startMockAnthropic`).
 */
export class ScriptedBackend implements AgentBackend {
  readonly name = 'claude' as const;
  readonly continuePrompt = 'continue';
  /** Every runner opened, in order (spares when claimed). */
  readonly runners: ScriptedRunner[] = [];
  /** Prompts of each conversation, by id. */
  readonly conversations: Map<string, string[]>;
  script: Script;
  readonly #options: ScriptedBackendOptions;

  constructor(options: ScriptedBackendOptions = {}) {
    this.#options = options;
    this.conversations = options.conversations ?? new Map();
    this.script = options.script ?? echoScript;
    if (!options.spares) this.prewarm = undefined;
  }

  async preflight(): Promise<void> {}

  locate(): string {
    return 'scripted';
  }

  open(spec: RunnerSpec): Runner {
    const runner = new ScriptedRunner(this, spec, this.runners.length + 1);
    if (this.#options.warm === false) runner.warm = undefined;
    this.runners.push(runner);
    return runner;
  }

  /** What `warm` does before the runner counts as woken. */
  get warming(): ((runner: ScriptedRunner) => Promise<void>) | undefined {
    return this.#options.warm || undefined;
  }

  prewarm?: (env: NodeJS.ProcessEnv) => Promise<Spare> = async () => new ScriptedSpare(this);

  async fork(source: { agentSessionId: string }, keepPrompts: number | null): Promise<string> {
    const prompts = this.conversations.get(source.agentSessionId) ?? [];
    const id = randomUUID();
    this.conversations.set(id, keepPrompts === null ? [...prompts] : prompts.slice(0, keepPrompts));
    return id;
  }

  async rewind(source: { agentSessionId: string }, prompt: string): Promise<string | null> {
    const prompts = this.conversations.get(source.agentSessionId) ?? [];
    if (prompts.at(-1) !== prompt) return source.agentSessionId;
    if (prompts.length === 1) return null;
    const id = randomUUID();
    this.conversations.set(id, prompts.slice(0, -1));
    return id;
  }

  contextWindow(): number {
    return this.#options.contextWindow ?? WINDOW;
  }

  /** Runners whose "process" is alive now. */
  get live(): number {
    return this.runners.filter((r) => r.alive).length;
  }
}

/** A runner of the scripted backend: one conversation, turns one at a time, like a warm process. */
export class ScriptedRunner implements Runner {
  readonly number: number;
  /** Prompts this runner played, in order. */
  readonly played: string[] = [];
  /** Its "process" was started ahead of its first turn (a wake). */
  woken = false;
  #backend: ScriptedBackend;
  #spec: RunnerSpec;
  #alive = true;
  #settings: RunnerSettings;
  #conversation: string | null;

  constructor(backend: ScriptedBackend, spec: RunnerSpec, number: number) {
    this.#backend = backend;
    this.#spec = spec;
    this.number = number;
    this.#conversation = spec.resume;
    this.#settings = { model: spec.config.model ?? null, permissionMode: spec.config.permissionMode ?? null };
  }

  get pid(): number | null {
    return this.#alive ? 100_000 + this.number : null;
  }

  get alive(): boolean {
    return this.#alive;
  }

  get settings(): RunnerSettings {
    return this.#settings;
  }

  async reconfigure(change: RunnerSettings): Promise<boolean> {
    if (!this.#alive) return false;
    this.#settings = { ...change };
    return true;
  }

  warm?: () => Promise<void> = async () => {
    if (!this.#alive) throw new Error('the runner is closed');
    try {
      await this.#backend.warming?.(this);
    } catch (err) {
      this.#alive = false;
      throw err;
    }
    this.woken = true;
  };

  async close(): Promise<void> {
    this.#alive = false;
  }

  /** Ends the "process" as a crash would: the next turn finds it dead. */
  crash(): void {
    this.#alive = false;
  }

  async *run(prompt: string, signal: AbortSignal): AsyncGenerator<AgentEvent> {
    if (!this.#alive) throw new Error('the runner is closed');
    const conversations = this.#backend.conversations;
    const resumed = this.#conversation !== null;
    const id = (this.#conversation ??= this.#spec.newConversationId ?? randomUUID());
    if (!conversations.has(id)) conversations.set(id, []);
    const history = conversations.get(id)!;
    yield { type: 'init', agentSessionId: id, model: this.#settings.model };
    const texts: string[] = [];
    let outcome: ScriptOutcome | void = undefined;
    let error: TurnError | null = null;
    this.played.push(prompt);
    try {
      const script = this.#backend.script({ prompt, agentSessionId: id, history: [...history], resumed, runner: this, signal });
      for (;;) {
        const step = await script.next();
        if (signal.aborted) break;
        if (step.done) {
          outcome = step.value;
          break;
        }
        if (step.value.type === 'message') texts.push(step.value.text);
        yield step.value;
      }
    } catch (err) {
      error = { code: ErrorCode.AGENT_FAILED, message: err instanceof Error ? err.message : String(err) };
    }
    if (signal.aborted) error = { code: ErrorCode.INTERRUPTED, message: 'the turn was interrupted' };
    error ??= outcome?.error ?? null;
    if (error === null) history.push(prompt);
    yield resultOf(id, error, outcome ?? {}, texts, this.#backend.contextWindow());
  }
}

function resultOf(agentSessionId: string, error: TurnError | null, outcome: ScriptOutcome, texts: string[], window: number): AgentResult {
  const tokens = outcome.contextTokens ?? 1_000;
  const context: ContextInfo = { tokens, window, ratio: Math.round((tokens / window) * 10_000) / 10_000 };
  return {
    type: 'result',
    ok: error === null,
    text: error === null ? (outcome.text ?? texts.join('\n\n')) : '',
    usage: { ...ZERO_USAGE, inputTokens: 10, outputTokens: 5, ...outcome.usage },
    context,
    agentSessionId,
    durationMs: 1,
    error,
    ...(outcome.retryAt !== undefined ? { retryAt: outcome.retryAt } : {}),
  };
}

/** A parked scripted process: any new conversation may claim it. */
class ScriptedSpare implements Spare {
  #backend: ScriptedBackend;
  #alive = true;
  readonly exited: Promise<void>;
  #exit!: () => void;

  constructor(backend: ScriptedBackend) {
    this.#backend = backend;
    this.exited = new Promise((resolve) => (this.#exit = resolve));
  }

  get alive(): boolean {
    return this.#alive;
  }

  get pid(): number | null {
    return this.#alive ? 99_999 : null;
  }

  claim(spec: RunnerSpec): Runner | null {
    if (!this.#alive) return null;
    this.#alive = false;
    this.#exit();
    return this.#backend.open(spec);
  }

  async close(): Promise<void> {
    this.#alive = false;
    this.#exit();
  }
}
