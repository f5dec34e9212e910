/** Test helpers for Tether and its users: local model APIs (Anthropic Messages, OpenAI Responses) for the real agents. */
export * from './mock-anthropic.js';
export * from './mock-responses.js';
export * from './mock-agents.js';
export { ManualClock } from '../domain/clock.js';
export { ScriptedBackend, ScriptedRunner, echoScript, untilInterrupted, type Script, type ScriptTurn, type ScriptOutcome, type ScriptedBackendOptions } from './scripted-backend.js';
