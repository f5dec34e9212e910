import { readFileSync } from 'node:fs';

/** Tether's version from its package.json, or 0.0.0 when it cannot be read (which must break nothing). */
export function packageVersion(): string {
  // src/lib/ and dist/lib/ both sit two levels below package.json.
  try {
    const pkg: unknown = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    if (typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string') return pkg.version;
  } catch {
    // fall through
  }
  return '0.0.0';
}
