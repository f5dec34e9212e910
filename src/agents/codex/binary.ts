import { accessSync, constants, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ErrorCode, TetherError } from '../../errors.js';

/** The Rust target each platform package of `@openai/codex` ships its binary for. */
const TARGETS: Record<string, string> = {
  'linux-x64': 'x86_64-unknown-linux-musl',
  'linux-arm64': 'aarch64-unknown-linux-musl',
  'darwin-x64': 'x86_64-apple-darwin',
  'darwin-arm64': 'aarch64-apple-darwin',
  'win32-x64': 'x86_64-pc-windows-msvc',
  'win32-arm64': 'aarch64-pc-windows-msvc',
};

/**
 * Where `@openai/codex` keeps the Codex binary: an optional dependency per platform
 * (`@openai/codex-linux-x64`, …), resolved from the `@openai/codex` package as its own launcher
 * does, at `vendor/<target>/bin/codex`. Null when none is installed for this platform.
 */
export function findBundledCodex(): string | null {
  const platform = `${process.platform}-${process.arch}`;
  const target = TARGETS[platform];
  if (!target) return null;
  try {
    const fromCodex = createRequire(createRequire(import.meta.url).resolve('@openai/codex/package.json'));
    const dir = dirname(fromCodex.resolve(`@openai/codex-${platform}/package.json`));
    const path = join(dir, 'vendor', target, 'bin', process.platform === 'win32' ? 'codex.exe' : 'codex');
    return existsSync(path) ? path : null;
  } catch {
    return null;
  }
}

/** The binary to run, or AGENT_UNAVAILABLE with what to do about it. */
export function resolveCodexBinary(configured: string | undefined): string {
  const path = configured ?? findBundledCodex();
  if (!path) {
    throw new TetherError(
      ErrorCode.AGENT_UNAVAILABLE,
      `Codex binary not found for ${process.platform}-${process.arch}: reinstall @openai/codex with optional dependencies, or set TETHER_CODEX_PATH`,
    );
  }
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new TetherError(ErrorCode.AGENT_UNAVAILABLE, `Codex binary at ${path} is missing or not executable (TETHER_CODEX_PATH?)`);
  }
  return path;
}
