import { accessSync, constants, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { ErrorCode, TetherError } from '../../errors.js';

const require = createRequire(import.meta.url);

/**
 * Where the Agent SDK keeps the Claude Code binary: an optional dependency per platform
 * (`@anthropic-ai/claude-agent-sdk-linux-x64`, `…-linux-x64-musl`, …). Returns null when none is
 * installed, e.g. after `npm install --omit=optional`.
 */
export function findBundledClaude(): string | null {
  const base = `@anthropic-ai/claude-agent-sdk-${process.platform}-${process.arch}`;
  const binary = process.platform === 'win32' ? 'claude.exe' : 'claude';
  for (const name of [base, `${base}-musl`]) {
    try {
      const path = join(dirname(require.resolve(`${name}/package.json`)), binary);
      if (existsSync(path)) return path;
    } catch {
      // not installed for this platform variant
    }
  }
  return null;
}

/** The binary to run, or AGENT_UNAVAILABLE with what to do about it. */
export function resolveClaudeBinary(configured: string | undefined): string {
  const path = configured ?? findBundledClaude();
  if (!path) {
    throw new TetherError(
      ErrorCode.AGENT_UNAVAILABLE,
      `Claude Code binary not found for ${process.platform}-${process.arch}: reinstall @anthropic-ai/claude-agent-sdk with optional dependencies, or set TETHER_CLAUDE_PATH`,
    );
  }
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new TetherError(ErrorCode.AGENT_UNAVAILABLE, `Claude Code binary at ${path} is missing or not executable (TETHER_CLAUDE_PATH?)`);
  }
  return path;
}

const CREDENTIAL_VARS = [
  'ANTHROPIC_API_KEY',
  'ANTHROPIC_AUTH_TOKEN',
  'CLAUDE_CODE_OAUTH_TOKEN',
  'CLAUDE_CODE_USE_BEDROCK',
  'CLAUDE_CODE_USE_VERTEX',
  'CLAUDE_CODE_USE_FOUNDRY',
] as const;

/**
 * Claude Code authenticates with an API key or token from the environment, a cloud provider
 * switch, or the credentials file `claude login` writes. Without any of them every turn would
 * fail at the first API call, so Tether refuses before journaling anything.
 */
export function checkClaudeCredentials(env: NodeJS.ProcessEnv): void {
  if (CREDENTIAL_VARS.some((name) => (env[name] ?? '').trim() !== '')) return;
  const configDir = env.CLAUDE_CONFIG_DIR ?? join(env.HOME ?? homedir(), '.claude');
  if (existsSync(join(configDir, '.credentials.json'))) return;
  throw new TetherError(
    ErrorCode.AGENT_UNAVAILABLE,
    'no credentials for Claude Code: set ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN / CLAUDE_CODE_OAUTH_TOKEN), or run `claude login` for the user Tether runs as',
  );
}
