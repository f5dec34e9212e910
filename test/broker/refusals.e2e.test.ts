import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { agentFixture, type AgentFixture } from '../helpers/agent-fixture.js';

describe('bad input is refused with a typed error and nothing written', () => {
  let fx: AgentFixture;
  beforeEach(async () => {
    fx = await agentFixture();
  });
  afterEach(async () => fx.cleanup());

  const badKeys: Array<[string, unknown]> = [
    ['empty', ''],
    ['blank', '   '],
    ['bell character', 'discord:\u0007'],
    ['newline', 'discord:1\nX-Injected: yes'],
    ['NUL', 'a\u0000b'],
    ['bidi override', 'user:\u202Eevil'],
    ['257 characters', 'k'.repeat(257)],
    ['not a string', 42],
  ];

  it.each(badKeys)('refuses a key with %s', async (_label, key) => {
    const tether = await fx.open();
    const turn = tether.send(key as string, 'hello');
    await expect(turn.result).rejects.toMatchObject({ code: ErrorCode.INVALID_INPUT });
    expect(await tether.list()).toEqual([]);
    expect(fx.mock.requests).toHaveLength(0);
  });

  it('accepts keys of every printable shape up to 256 characters', async () => {
    const tether = await fx.open();
    for (const key of ['discord:123456', 'slack:T01/C02', 'team:frontend->backend', 'ключ:日本語 🙂', 'k'.repeat(256)]) {
      expect((await tether.send(key, 'hi').result).text).toBe('Reply #1: hi');
    }
    expect(await tether.list()).toHaveLength(5);
  });

  it('refuses a missing cwd, a file as cwd, and bad option types', async () => {
    const tether = await fx.open();
    const cases = [
      tether.send('cwd:1', 'hi', { cwd: join(fx.dir, 'does-not-exist') }),
      tether.send('cwd:1', 'hi', { cwd: fx.dbPath }),
      tether.send('cwd:1', 'hi', { maxTurns: -3 }),
      tether.send('cwd:1', 'hi', { permissionMode: 'yolo' as never }),
      tether.send('cwd:1', 'hi', { nonsense: true } as never),
      tether.send('cwd:1', 'hi', { labels: { 'bad label!': 'x' } }),
      tether.send('cwd:1', '   '),
    ];
    for (const turn of cases) await expect(turn.result).rejects.toMatchObject({ code: ErrorCode.INVALID_INPUT });
    expect(await tether.get('cwd:1')).toBeNull();
    expect(fx.mock.requests).toHaveLength(0);
  });

  it('refuses a prompt over the configured limit', async () => {
    const tether = await fx.open({ maxPromptChars: 10 });
    await expect(tether.send('long:1', 'x'.repeat(11)).result).rejects.toMatchObject({ code: ErrorCode.INVALID_INPUT });
    expect(await tether.get('long:1')).toBeNull();
  });

  it('refuses when the agent has no credentials, before journaling anything', async () => {
    const { ANTHROPIC_API_KEY: _drop, ...env } = fx.env;
    const tether = await fx.open({ env });
    const turn = tether.send('creds:1', 'hi');
    await expect(turn.result).rejects.toMatchObject({ code: ErrorCode.AGENT_UNAVAILABLE, message: expect.stringContaining('ANTHROPIC_API_KEY') });
    expect(await tether.get('creds:1')).toBeNull();
  });

  it('refuses when the agent binary is missing, before journaling anything', async () => {
    const tether = await fx.open({ claudePath: join(fx.dir, 'no-such-claude') });
    await expect(tether.send('bin:1', 'hi').result).rejects.toMatchObject({ code: ErrorCode.AGENT_UNAVAILABLE, message: expect.stringContaining('TETHER_CLAUDE_PATH') });
    expect(await tether.get('bin:1')).toBeNull();
  });

  it('refuses invalid settings naming the variable that set them', async () => {
    await expect(fx.open({ env: { ...fx.env, TETHER_MAX_SESSIONS: '0' } })).rejects.toMatchObject({
      code: ErrorCode.INVALID_INPUT,
      message: expect.stringContaining('TETHER_MAX_SESSIONS'),
    });
  });
});
