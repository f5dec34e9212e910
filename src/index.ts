/**
 * Tether: durable coding-agent sessions behind keys.
 *
 * ```ts
 * import { createTether } from 'tether-broker';
 * const tether = await createTether();
 * const turn = tether.send('discord:42', 'hello');
 * for await (const event of turn) if (event.type === 'text.delta') process.stdout.write(event.text);
 * await tether.close();
 * ```
 */
export { createTether, type CreateTetherOptions } from './broker/create-tether.js';
export type { Tether, TurnHandle, SendOptions, ListFilter, TetherStats, GcResult, TetherListener, WakeResult } from './broker/api.js';
export { loadConfig, configSchema, ENV_VARS, type TetherConfig, type TetherConfigInput } from './config.js';
export { TetherError, ErrorCode, httpStatusOf, exitCodeOf, isTetherError } from './errors.js';
export { systemClock, ManualClock, type Clock } from './domain/clock.js';
export { resetAtRatio, type ContextPolicy } from './domain/context-policy.js';
export { validateKey, validateTenant, MAX_KEY_LENGTH } from './domain/keys.js';
export { sessionToJSON, turnToJSON, type SessionJSON, type TurnJSON } from './domain/json.js';
export type * from './domain/events.js';
export type * from './domain/types.js';
export type { Store, StoreStats } from './store/store.js';
export { openStore } from './store/open-store.js';
export type { AgentBackend, Runner, RunnerSpec, AgentEvent, AgentResult } from './agents/agent.js';
export { createClaudeBackend } from './agents/claude/index.js';
export { createCodexBackend, type CodexBackendOptions } from './agents/codex/index.js';
export { connectTether } from './client/index.js';
export { buildServer } from './server/app.js';
export { serve } from './server/serve.js';
