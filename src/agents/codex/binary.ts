import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

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
