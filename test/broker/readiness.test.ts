import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTether } from '../../src/broker/create-tether.js';

/**
 * Readiness of a node with the real Claude backend: the binary is looked up and the credentials
 * are checked, but no agent process starts (no spares, no turn).
 */
describe('readiness (Claude backend, no agent process)', () => {
  const home = mkdtempSync(join(tmpdir(), 'tether-ready-'));
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  async function readinessWith(env: NodeJS.ProcessEnv) {
    const tether = await createTether({ persistence: false, spares: 0, janitorIntervalSec: 0, logLevel: 'silent', env: { PATH: process.env.PATH, HOME: home, ...env } });
    try {
      return await tether.readiness();
    } finally {
      await tether.close();
    }
  }

  it('is not ready without credentials, and says which are missing', async () => {
    const r = await readinessWith({});
    expect(r).toMatchObject({ ready: false, store: { ok: true }, agent: { ok: false, error: expect.stringMatching(/^no credentials for Claude Code: set ANTHROPIC_API_KEY/) } });
  });

  it('is ready with an API key in the environment', async () => {
    expect(await readinessWith({ ANTHROPIC_API_KEY: 'sk-ant-any' })).toEqual({ ready: true, store: { ok: true, kind: 'memory' }, agent: { ok: true } });
  });
});
