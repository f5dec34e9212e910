import { existsSync, statSync } from 'node:fs';
import type { AgentBackend, Runner, RunnerSpec, Spare } from '../agent.js';
import type { SessionConfig } from '../../domain/types.js';
import { fallbackContextWindow } from '../../domain/usage.js';
import { invalidInput } from '../../errors.js';
import { checkClaudeCredentials, resolveClaudeBinary } from './preflight.js';
import { ClaudeRunner, coldStart } from './runner.js';
import { ClaudeSpare } from './spare.js';

export interface ClaudeBackendOptions {
  /** A Claude Code binary to use instead of the one bundled with the Agent SDK. */
  claudePath?: string;
}

/** Claude Code through `@anthropic-ai/claude-agent-sdk`. */
export function createClaudeBackend(options: ClaudeBackendOptions = {}): AgentBackend {
  let binary: string | null = null;
  const resolve = (): string => (binary ??= resolveClaudeBinary(options.claudePath));
  return {
    name: 'claude',
    locate: resolve,
    async preflight(config: SessionConfig, env: NodeJS.ProcessEnv): Promise<void> {
      if (!existsSync(config.cwd) || !statSync(config.cwd).isDirectory()) {
        throw invalidInput(`cwd ${config.cwd} is not an existing directory`);
      }
      resolve();
      checkClaudeCredentials(env);
    },
    open(spec: RunnerSpec): Runner {
      return new ClaudeRunner(spec, coldStart(spec, resolve()));
    },
    prewarm(env: NodeJS.ProcessEnv): Promise<Spare> {
      return ClaudeSpare.start(resolve(), env);
    },
    contextWindow: fallbackContextWindow,
  };
}
