/** Test helpers for Tether and its users: a local Anthropic Messages API for the real agent. */
export * from './mock-anthropic.js';
export { ManualClock } from '../domain/clock.js';
export { ScriptedBackend, ScriptedRunner, echoScript, untilInterrupted, type Script, type ScriptTurn, type ScriptOutcome, type ScriptedBackendOptions } from './scripted-backend.js';
