import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tether } from '../../src/broker/api.js';
import { loadConfig } from '../../src/config.js';
import { buildServer } from '../../src/server/app.js';
import { agentFixture, type AgentFixture } from '../helpers/agent-fixture.js';
import { BROWSER_SKIP, launchBrowser } from '../helpers/browser.js';
import { BUILT } from '../helpers/cli-fixture.js';

const ACME = 'acme-dashboard-token-0123';
const OTHER = 'other-dashboard-token-0123';

/*
 * The dashboard in a real browser (Debian's Chromium through playwright-core) against a daemon on
 * a real socket, the real Claude Code answering through the mock API.
 */
describe.skipIf(BROWSER_SKIP || !BUILT)('the dashboard (Chromium)', () => {
  let fx: AgentFixture;
  let tether: Tether;
  let app: FastifyInstance;
  let url: string;
  let browser: Browser;
  const problems: string[] = [];

  beforeAll(async () => {
    fx = await agentFixture();
    tether = await fx.open();
    const config = loadConfig({ db: fx.dbPath, defaultCwd: fx.cwd, allowedRoots: fx.dir, logLevel: 'silent', tokens: `${ACME}=acme,${OTHER}=other` }, fx.env);
    app = await buildServer(tether, config, { logger: false });
    await app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    await tether.send('web:ada', 'first question', { tenant: 'acme', labels: { user: 'ada' }, metadata: { taskId: 'T-7' } }).result;
    await tether.send('web:bob', 'hello', { tenant: 'acme', labels: { user: 'bob' } }).result;
    await tether.send('web:secret', 'not yours', { tenant: 'other' }).result;
    browser = await launchBrowser();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await fx?.cleanup();
  });

  async function signedIn(token: string): Promise<Page> {
    const page = await browser.newPage();
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(url);
    await page.getByPlaceholder('API token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('table.sessions').waitFor();
    return page;
  }

  it('is served with a strict CSP and nothing inline; without a token it asks for one', async () => {
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'; script-src 'self'/);
    const html = await res.text();
    expect(html).not.toMatch(/<script>|<style>|\sstyle=|\son[a-z]+=/i);
    const page = await browser.newPage();
    await page.goto(url);
    await expect.poll(() => page.getByRole('heading', { name: 'Sign in' }).isVisible()).toBe(true);
    // The token is never in a URL.
    await page.getByPlaceholder('API token').fill('not-a-valid-token-123456');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('That token was not accepted.').waitFor();
    expect(page.url()).not.toContain('token');
    await page.close();
  });

  it("lists only the tenant's sessions, filters them by label, and opens one", async () => {
    const page = await signedIn(ACME);
    const keys = async (): Promise<string[]> => page.locator('table.sessions td.key').allInnerTexts();
    expect((await keys()).sort()).toEqual(['web:ada', 'web:bob']);
    await page.getByPlaceholder('label, e.g. user=ada').fill('user=ada');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect.poll(keys).toEqual(['web:ada']);
    await page.getByRole('link', { name: 'web:ada' }).click();
    await page.locator('ol.timeline li').first().waitFor();
    expect(await page.locator('ol.timeline .prompt').allInnerTexts()).toEqual(['first question']);
    expect(await page.locator('dl.facts').innerText()).toContain('user=ada');
    expect(await page.locator('dl.facts').innerText()).toContain('{"taskId":"T-7"}');
    await page.close();
  });

  it('searches keys by prefix and filters by agent, on the daemon', async () => {
    const page = await signedIn(ACME);
    const keys = async (): Promise<string[]> => page.locator('table.sessions td.key').allInnerTexts();
    await page.getByPlaceholder('key starts with…').fill('web:b');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect.poll(keys).toEqual(['web:bob']);
    await page.getByPlaceholder('key starts with…').fill('');
    await page.locator('select[name=backend]').selectOption('codex');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.getByText('No sessions match.').waitFor();
    await page.close();
  });

  it('streams a turn another client runs, then shows it in the timeline, without a reload', async () => {
    const page = await signedIn(ACME);
    await page.getByRole('link', { name: 'web:bob' }).click();
    await page.locator('ol.timeline li').first().waitFor();
    fx.mock.enqueue({ text: 'a bot answer, word by word, slowly', chunks: 8, chunkDelayMs: 150 });
    const turn = tether.send('web:bob', 'from a bot', { tenant: 'acme' });
    // Part of the reply is on screen while the turn still runs.
    await expect.poll(() => page.locator('li.other .reply').innerText().catch(() => ''), { timeout: 20_000 }).toMatch(/^a bot/);
    await turn.result;
    await expect.poll(() => page.locator('ol.timeline .prompt').allInnerTexts(), { timeout: 20_000 }).toEqual(['hello', 'from a bot']);
    expect(await page.locator('li.other').count()).toBe(0);
    await page.close();
  });

  it('decides an approval from the inbox; the turn goes on', async () => {
    const target = join(fx.cwd, 'approved.txt');
    fx.mock.enqueue({ toolUse: { name: 'Write', input: { file_path: target, content: 'approved\n' } } }, { text: 'written' });
    const turn = tether.send('web:ask', 'write the file', { tenant: 'acme', approvals: 'ask' });
    const page = await signedIn(ACME);
    await page.getByRole('link', { name: 'Approvals' }).click();
    await page.locator('li.approval').waitFor({ timeout: 30_000 });
    expect(await page.locator('li.approval').innerText()).toContain('asks to use Write');
    await page.getByRole('button', { name: 'Allow', exact: true }).click();
    expect((await turn.result).text).toBe('written');
    expect(readFileSync(target, 'utf8')).toBe('approved\n');
    await page.getByText('No approvals are waiting.').waitFor();
    await page.close();
  }, 60_000);

  it('resets and forks a session from its page', async () => {
    const page = await signedIn(ACME);
    await page.getByRole('link', { name: 'web:bob' }).click();
    await page.locator('ol.timeline li').first().waitFor();
    page.once('dialog', (d) => void d.accept('web:bob-copy'));
    await page.getByRole('button', { name: 'Fork' }).click();
    await expect.poll(() => page.locator('h2.key').innerText()).toBe('web:bob-copy');
    expect((await tether.get('web:bob-copy', { tenant: 'acme' }))?.turns).toBeGreaterThan(0);
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Reset' }).click();
    await expect.poll(async () => (await tether.get('web:bob-copy', { tenant: 'acme' }))?.status).toBe('closed');
    await page.close();
  }, 60_000);

  it("charts the tenant's usage over time from /v1/usage", async () => {
    const page = await signedIn(ACME);
    await page.getByRole('link', { name: 'Charts' }).click();
    await expect.poll(() => page.locator('.chart canvas').count(), { timeout: 20_000 }).toBeGreaterThanOrEqual(3);
    expect(await page.locator('.chart').first().innerText()).toContain('Tokens');
    await page.locator('select[name=by]').selectOption('model');
    await expect.poll(() => page.locator('.u-legend').first().innerText()).toMatch(/\(default\)|claude/);
    expect(problems.filter((p) => !/status of 401/.test(p))).toEqual([]);
    if (process.env.TETHER_SCREENSHOT) await page.screenshot({ path: process.env.TETHER_SCREENSHOT.replace(/\.png$/, '-charts.png'), fullPage: true });
    await page.close();

    // The series counts every ended turn of the tenant, and only its own.
    const res = await fetch(`${url}/v1/usage?bucket=minute&by=backend&since=${new Date(Date.now() - 3_600_000).toISOString()}`, { headers: { authorization: `Bearer ${ACME}` } });
    const series = (await res.json()) as { groups: string[]; buckets: Array<{ turns: number; costUsd: number }> };
    const ended = (await tether.list({ tenant: 'acme' })).reduce((n, s) => n + s.turns, 0);
    expect(series.groups).toEqual(['claude']);
    expect(series.buckets.reduce((n, b) => n + b.turns, 0)).toBe(ended);
    expect(series.buckets.reduce((n, b) => n + b.costUsd, 0)).toBeGreaterThan(0);
    const bad = await fetch(`${url}/v1/usage?by=label:%20x`, { headers: { authorization: `Bearer ${ACME}` } });
    expect(bad.status).toBe(400);
  }, 60_000);

  it('sends a message and shows the reply as it streams, then in the timeline', async () => {
    const page = await signedIn(ACME);
    await page.getByRole('link', { name: 'web:ada' }).click();
    await page.locator('ol.timeline li').first().waitFor();
    // The mock streams slowly enough to watch: the reply appears in the live item before the end.
    fx.mock.enqueue({ text: 'a streamed answer in several chunks', chunks: 6, chunkDelayMs: 150 });
    await page.getByPlaceholder('Send a message…').fill('second question');
    await page.getByRole('button', { name: 'Send' }).click();
    await expect.poll(() => page.locator('li.live .reply').innerText().catch(() => ''), { timeout: 30_000 }).toMatch(/\S/);
    // Once it ended, the live item gives way to the journaled turn.
    await expect.poll(() => page.locator('li.live').count(), { timeout: 30_000 }).toBe(0);
    await expect.poll(() => page.locator('ol.timeline .reply').allInnerTexts()).toEqual(['Reply #1: first question', 'a streamed answer in several chunks']);
    // No script error and no CSP violation (the 401 of the first, token-less check is expected).
    expect(problems.filter((p) => !/status of 401/.test(p))).toEqual([]);
    // `TETHER_SCREENSHOT=docs/dashboard.png npm test` refreshes the README's picture.
    if (process.env.TETHER_SCREENSHOT) await page.screenshot({ path: process.env.TETHER_SCREENSHOT, fullPage: true });
    await page.close();
  }, 60_000);
});
