import { prewarm, type SpareProcess } from '@anthropic-ai/claude-agent-sdk';
import type { Runner, RunnerSpec, Spare } from '../agent.js';
import { ClaudeRunner } from './runner.js';
import { coldStart, type ClaudeStart } from './start.js';
import { ProcessWatch, trackedSpawn, type ClaudeLaunch } from './spawn.js';
import { sessionStoreOver, withConfigDir } from './transcripts.js';

/**
 * A parked Claude Code process (the SDK's `prewarm`): tools, plugins and MCP handshakes done
 * before the first message. Only a new conversation whose settings the spare can take at claim
 * time (cwd, model, permission mode, appended system prompt) uses it; everything else the
 * process fixed at start-up (environment, tool lists, max turns) must match what it was parked
 * with, so such a session starts normally instead.
 */
export class ClaudeSpare implements Spare {
  readonly #spare: SpareProcess;
  readonly #watch: ProcessWatch;
  readonly #launch: ClaudeLaunch;
  readonly #env: NodeJS.ProcessEnv;
  #claimed = false;

  private constructor(spare: SpareProcess, watch: ProcessWatch, launch: ClaudeLaunch, env: NodeJS.ProcessEnv) {
    this.#spare = spare;
    this.#watch = watch;
    this.#launch = launch;
    this.#env = env;
  }

  static async start(launch: ClaudeLaunch, env: NodeJS.ProcessEnv): Promise<ClaudeSpare> {
    const watch = new ProcessWatch();
    const { archive } = launch;
    let spare: SpareProcess;
    try {
      spare = await prewarm({
        options: {
          env: { ...withConfigDir(env) },
          pathToClaudeCodeExecutable: launch.binary,
          includePartialMessages: true,
          spawnClaudeCodeProcess: trackedSpawn(watch, launch.nice),
          ...(archive ? { sessionStore: sessionStoreOver(archive), sessionStoreFlush: 'eager' as const } : {}),
        },
      });
    } catch (err) {
      // A process that came up but failed its handshake is nobody's: end it before reporting.
      await watch.kill();
      throw err;
    }
    return new ClaudeSpare(spare, watch, launch, env);
  }

  get alive(): boolean {
    return !this.#claimed && this.#watch.alive;
  }

  get pid(): number | null {
    return this.#watch.pid;
  }

  get exited(): Promise<void> {
    return this.#watch.exited;
  }

  claim(spec: RunnerSpec): Runner | null {
    if (!this.alive || !claimable(spec, this.#env)) return null;
    this.#claimed = true;
    const { config } = spec;
    const start: ClaudeStart = (input) => {
      const options: Parameters<SpareProcess['claim']>[0]['options'] = { cwd: config.cwd };
      if (config.model) options.model = config.model;
      if (config.permissionMode) options.permissionMode = config.permissionMode;
      if (config.appendSystemPrompt) options.appendSystemPrompt = config.appendSystemPrompt;
      return { query: this.#spare.claim({ prompt: input, options }), watch: this.#watch, claimed: this.#spare.claimed };
    };
    return new ClaudeRunner(spec, start, coldStart(spec, this.#launch), null, () => this.#end());
  }

  /** Ends the parked process; once claimed, its runner does (see ClaudeRunner's discard). */
  async close(): Promise<void> {
    if (this.#claimed) return;
    await this.#end();
  }

  async #end(): Promise<void> {
    this.#spare.close();
    await this.#watch.kill();
  }
}

/** Whether a conversation can start on a spare parked with `parkedEnv`. */
function claimable(spec: RunnerSpec, parkedEnv: NodeJS.ProcessEnv): boolean {
  const { config } = spec;
  if (spec.resume !== null) return false;
  if (config.allowedTools || config.disallowedTools || config.maxTurns) return false;
  // In-process tools are given at start-up, which a spare had without them.
  if (spec.tools?.length) return false;
  if (config.env && Object.keys(config.env).length > 0) return false;
  // Permission prompts are answered by a callback registered at start-up, which a spare has not.
  if (config.approvals === 'ask') return false;
  // A spare parked without allowDangerouslySkipPermissions refuses that mode; skip the round trip.
  if (config.permissionMode === 'bypassPermissions') return false;
  return sameEnv(spec.env, parkedEnv);
}

function sameEnv(a: NodeJS.ProcessEnv, b: NodeJS.ProcessEnv): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) if (a[key] !== b[key]) return false;
  return true;
}
