import { existsSync, statSync } from 'node:fs';
import type { AgentBackend, Runner, RunnerSpec, Spare } from '../agent.js';
import type { TranscriptMirror } from '../../store/ports/transcripts.js';
import type { SessionConfig } from '../../domain/types.js';
import { fallbackContextWindow } from '../../domain/usage.js';
import { ErrorCode, TetherError, invalidInput } from '../../errors.js';
import { checkClaudeCredentials, resolveClaudeBinary } from './preflight.js';
import { ClaudeRunner } from './runner.js';
import { coldStart, type RunnerRecovery } from './start.js';
import { ClaudeSpare } from './spare.js';
import type { ClaudeLaunch } from './spawn.js';
import { forkConversation, rewindConversation } from './copies.js';
import { checkResumable } from './transcripts.js';

export interface ClaudeBackendOptions {
  /** A Claude Code binary to use instead of the one bundled with the Agent SDK. */
  claudePath?: string;
  /**
   * Tether's copy of every transcript (the store): mirrored on every turn through the SDK's
   * SessionStore and read back on resume. Without it, conversations live only under ~/.claude.
   */
  transcripts?: TranscriptMirror;
  /** Niceness added to every agent process (0–19, default 0): see `trackedSpawn`. */
  nice?: number;
}

/** Claude Code through `@anthropic-ai/claude-agent-sdk`. */
export function createClaudeBackend(options: ClaudeBackendOptions = {}): AgentBackend {
  let binary: string | null = null;
  const archive = options.transcripts ?? null;
  /** Copies of conversations are made from the store's mirror. */
  const mirror = (what: string): TranscriptMirror => {
    if (!archive) throw new TetherError(ErrorCode.AGENT_UNAVAILABLE, `${what} needs the transcript mirror (TETHER_MIRROR_TRANSCRIPTS=true)`);
    return archive;
  };
  const resolve = (): string => (binary ??= resolveClaudeBinary(options.claudePath));
  const launch = (): ClaudeLaunch => ({ binary: resolve(), archive, nice: options.nice ?? 0 });
  return {
    name: 'claude',
    locate: resolve,
    checkCredentials: checkClaudeCredentials,
    async preflight(config: SessionConfig, env: NodeJS.ProcessEnv): Promise<void> {
      if (!existsSync(config.cwd) || !statSync(config.cwd).isDirectory()) {
        throw invalidInput(`cwd ${config.cwd} is not an existing directory`);
      }
      resolve();
      checkClaudeCredentials(env);
    },
    open(spec: RunnerSpec): Runner {
      const recap = spec.recap;
      const recovery: RunnerRecovery | null = recap
        ? {
            canResume: async (id) => (await checkResumable(archive, id, spec.config.cwd, spec.env)) !== 'missing',
            restart: (id) => coldStart({ ...spec, resume: null, newConversationId: id }, launch()),
            recap,
          }
        : null;
      return new ClaudeRunner(spec, coldStart(spec, launch()), null, recovery);
    },
    prewarm(env: NodeJS.ProcessEnv): Promise<Spare> {
      return ClaudeSpare.start(launch(), env);
    },
    async verify(agentSessionId, cwd, env) {
      if (archive) await checkResumable(archive, agentSessionId, cwd, env);
    },
    async fork(source, keepPrompts) {
      return forkConversation(mirror('forking'), source, keepPrompts);
    },
    async rewind(source, prompt) {
      return rewindConversation(mirror('regenerating'), source, prompt);
    },
    contextWindow: fallbackContextWindow,
    continuePrompt: 'continue',
  };
}
