import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/**
 * Debian's Chromium (`apt-get install chromium`; `.ci/run` installs it), or TETHER_CHROMIUM.
 * Without one, browser tests skip with that reason, unless TETHER_REQUIRE_BROWSER=1 (CI), which
 * makes a missing browser a failure.
 */
export const CHROMIUM = [process.env.TETHER_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p): p is string => !!p && existsSync(p)) ?? null;

export const BROWSER_SKIP = CHROMIUM === null && process.env.TETHER_REQUIRE_BROWSER !== '1';

export async function launchBrowser(): Promise<Browser> {
  if (!CHROMIUM) throw new Error('no Chromium (install the chromium package or set TETHER_CHROMIUM); TETHER_REQUIRE_BROWSER=1 makes this a failure');
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
}
