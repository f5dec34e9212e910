import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  prewarm,
  query,
  type Query,
  type SDKMessage,
  type SDKResultMessage,
  type SDKUserMessage,
  type SpareProcess,
  type SpawnOptions,
  type SpawnedProcess,
} from '@anthropic-ai/claude-agent-sdk';

/** Spawns the agent like the SDK does, keeping the child so that its exit can be awaited. */
class Spawned {
  child: ChildProcess | null = null;

  readonly spawn = (options: SpawnOptions): SpawnedProcess => {
    const child = spawn(options.command, options.args, { cwd: options.cwd, env: options.env, stdio: ['pipe', 'pipe', 'ignore'], signal: options.signal });
    // The SDK's spare (prewarm + claim, closed while another parks) adds more than the default
    // ten exit listeners to one child on its way out; that is the SDK's business, not a leak here.
    child.setMaxListeners(32);
    this.child = child;
    return child as SpawnedProcess;
  };

  /** Resolves once the process has exited (SIGKILL after 2 s). */
  async exited(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
    await new Promise((resolve) => child.once('exit', resolve));
    clearTimeout(timer);
  }
}

/** Reads a query's messages until the result of the turn. */
async function untilResult(messages: AsyncIterator<SDKMessage>): Promise<SDKResultMessage> {
  for (;;) {
    const next = await messages.next();
    if (next.done) throw new Error('the raw SDK query ended before the result');
    if (next.value.type === 'result') {
      if (next.value.is_error) throw new Error(`raw SDK turn failed: ${JSON.stringify(next.value).slice(0, 300)}`);
      return next.value;
    }
  }
}

const userMessage = (prompt: string, sessionId: string): SDKUserMessage => ({
  type: 'user',
  message: { role: 'user', content: prompt },
  parent_tool_use_id: null,
  session_id: sessionId,
});

/** The smallest push-driven input an SDK streaming-input `query()` accepts. */
class PushInput implements AsyncIterable<SDKUserMessage> {
  #items: SDKUserMessage[] = [];
  #wake: ((r: IteratorResult<SDKUserMessage>) => void) | null = null;
  #ended = false;

  push(message: SDKUserMessage): void {
    const wake = this.#wake;
    if (wake) {
      this.#wake = null;
      wake({ value: message, done: false });
    } else this.#items.push(message);
  }

  end(): void {
    this.#ended = true;
    const wake = this.#wake;
    this.#wake = null;
    wake?.({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<SDKUserMessage> {
    return {
      next: () => {
        const item = this.#items.shift();
        if (item) return Promise.resolve({ value: item, done: false });
        if (this.#ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.#wake = resolve;
        });
      },
    };
  }
}

/**
 * The baseline of a warm turn: one Agent SDK `query()` with streaming input, kept open; a turn
 * is "push a user message, read messages until its `result`". Same options Tether passes
 * (binary, cwd, env, partial messages), nothing else in between.
 */
export class RawSdkConversation {
  readonly #input = new PushInput();
  readonly #query: Query;
  readonly #messages: AsyncIterator<SDKMessage>;
  readonly #spawned = new Spawned();
  sessionId: string;

  constructor(options: { binary: string; cwd: string; env: NodeJS.ProcessEnv; sessionId?: string }) {
    this.sessionId = options.sessionId ?? randomUUID();
    this.#query = query({
      prompt: this.#input,
      options: {
        cwd: options.cwd,
        env: { ...options.env },
        pathToClaudeCodeExecutable: options.binary,
        includePartialMessages: true,
        sessionId: this.sessionId,
        spawnClaudeCodeProcess: this.#spawned.spawn,
      },
    });
    this.#messages = this.#query[Symbol.asyncIterator]();
  }

  /** Sends one prompt and resolves with its result message. */
  async turn(prompt: string): Promise<SDKResultMessage> {
    this.#input.push(userMessage(prompt, this.sessionId));
    return untilResult(this.#messages);
  }

  /** Ends the conversation and waits for its process to exit. */
  async close(): Promise<void> {
    this.#input.end();
    this.#query.close();
    await this.#spawned.exited();
  }
}

/** A spare parked with the SDK's `prewarm()`, claimed for one new conversation. */
export class RawSpare {
  readonly #spare: SpareProcess;
  readonly #spawned: Spawned;
  #input: PushInput | null = null;
  #query: Query | null = null;

  private constructor(spare: SpareProcess, spawned: Spawned) {
    this.#spare = spare;
    this.#spawned = spawned;
  }

  /** Resolves once the spare process is parked and initialized. */
  static async park(options: { binary: string; env: NodeJS.ProcessEnv }): Promise<RawSpare> {
    const spawned = new Spawned();
    const spare = await prewarm({
      options: { env: { ...options.env }, pathToClaudeCodeExecutable: options.binary, includePartialMessages: true, spawnClaudeCodeProcess: spawned.spawn },
    });
    return new RawSpare(spare, spawned);
  }

  /** Claims the spare for a conversation in `cwd` with its first prompt; resolves with the result. */
  async firstTurn(cwd: string, prompt: string): Promise<SDKResultMessage> {
    this.#input = new PushInput();
    this.#query = this.#spare.claim({ prompt: this.#input, options: { cwd } });
    this.#input.push(userMessage(prompt, ''));
    return untilResult(this.#query[Symbol.asyncIterator]());
  }

  async close(): Promise<void> {
    this.#input?.end();
    if (this.#query) this.#query.close();
    else this.#spare.close();
    await this.#spawned.exited();
  }
}
