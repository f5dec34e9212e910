import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ApprovalRequest } from '../../../src/domain/approvals.js';
import type { Lease } from '../../../src/domain/types.js';
import { INTERRUPTED, OTHER_OWNER, OWNER, TTL, type Suite } from './suite.js';

const HOUR = 3_600_000;

const writeCall = (over: Partial<ApprovalRequest> = {}): ApprovalRequest => ({
  kind: 'tool',
  toolUseId: 'toolu_1',
  tool: 'Write',
  input: { file_path: '/tmp/work/a.txt', content: 'hi' },
  title: 'Claude wants to write a.txt',
  suggestions: [{ type: 'addRules', rules: [{ toolName: 'Write' }], behavior: 'allow', destination: 'session' }],
  ...over,
});

export function approvalBehaviour(suite: Suite): void {
  const { store, clock } = suite;
  const ask = (lease: Lease, turnId: string, over: Partial<ApprovalRequest> = {}, ttlMs = HOUR) =>
    store.requestApproval({ lease, turnId, id: randomUUID(), request: writeCall(over), ttlMs });

  describe('approvals', () => {
    it("journals a running turn's question pending, with what the agent asked, until its expiry by the store clock", async () => {
      const s = await suite.start({ key: 'chat:1' });
      const { approval, created } = await ask(s.lease, s.turn.id);
      expect(created).toBe(true);
      expect(approval).toMatchObject({
        tenant: 'default',
        key: 'chat:1',
        sessionId: s.session.id,
        turnId: s.turn.id,
        kind: 'tool',
        toolUseId: 'toolu_1',
        tool: 'Write',
        input: { file_path: '/tmp/work/a.txt', content: 'hi' },
        title: 'Claude wants to write a.txt',
        suggestions: [{ type: 'addRules', rules: [{ toolName: 'Write' }], behavior: 'allow', destination: 'session' }],
        status: 'pending',
        decidedBy: null,
        message: null,
        remember: null,
        answers: null,
        requestedAt: clock.now(),
        decidedAt: null,
        expiresAt: clock.now() + HOUR,
      });
      expect(await store.getApproval('default', approval.id)).toEqual(approval);
      if (suite.harness.reopen) await suite.reopen();
      expect(await store.listApprovals({ tenant: 'default', status: 'pending' })).toEqual([approval]);
    });

    it('asked again for the same call of the turn (its agent restarted), returns the approval it keeps, decided or not', async () => {
      const s = await suite.start();
      const first = await ask(s.lease, s.turn.id);
      const again = await ask(s.lease, s.turn.id, { title: 'asked a second time' });
      expect(again).toEqual({ approval: first.approval, created: false });
      await store.decideApproval({ tenant: 'default', id: first.approval.id, status: 'allowed', decidedBy: 'person' });
      expect((await ask(s.lease, s.turn.id)).approval).toMatchObject({ id: first.approval.id, status: 'allowed', decidedBy: 'person' });
      // Another call of the same turn is another approval.
      expect((await ask(s.lease, s.turn.id, { toolUseId: 'toolu_2' })).created).toBe(true);
    });

    it('is fenced: a turn that no longer runs under the lease asks nothing', async () => {
      const s = await suite.start();
      await suite.finish(s.lease, s.turn.id);
      await expect(ask(s.lease, s.turn.id)).rejects.toMatchObject({ code: 'LEASE_LOST' });
      const next = await suite.start();
      await expect(ask({ ...next.lease, token: 'forged' }, next.turn.id)).rejects.toMatchObject({ code: 'LEASE_LOST' });
      expect(await store.listApprovals({ tenant: 'default' })).toEqual([]);
    });

    it('takes exactly one decision: the second gets ALREADY_DECIDED and changes nothing', async () => {
      const s = await suite.start();
      const { approval } = await ask(s.lease, s.turn.id);
      clock.advance(5_000);
      const decided = await store.decideApproval({ tenant: 'default', id: approval.id, status: 'denied', decidedBy: 'person', message: 'not that file' });
      expect(decided).toMatchObject({ status: 'denied', decidedBy: 'person', message: 'not that file', decidedAt: clock.now() });
      await expect(store.decideApproval({ tenant: 'default', id: approval.id, status: 'allowed', decidedBy: 'person' })).rejects.toMatchObject({
        code: 'ALREADY_DECIDED',
      });
      expect(await store.getApproval('default', approval.id)).toEqual(decided);
    });

    it('of two decisions at once, one wins', async () => {
      const s = await suite.start();
      const { approval } = await ask(s.lease, s.turn.id);
      const results = await Promise.allSettled(
        ['allowed', 'denied'].map((status) => store.decideApproval({ tenant: 'default', id: approval.id, status: status as 'allowed', decidedBy: 'person' })),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(results.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: 'ALREADY_DECIDED' } });
    });

    it("keeps tenants apart: another tenant's approval is NOT_FOUND, and is not listed", async () => {
      const s = await suite.start({ tenant: 'acme' });
      const { approval } = await ask(s.lease, s.turn.id);
      await expect(store.decideApproval({ tenant: 'default', id: approval.id, status: 'allowed', decidedBy: 'person' })).rejects.toMatchObject({
        code: 'NOT_FOUND',
      });
      expect(await store.getApproval('default', approval.id)).toBeNull();
      expect(await store.listApprovals({ tenant: 'default' })).toEqual([]);
      expect((await store.getApproval('acme', approval.id))?.status).toBe('pending');
    });

    it('remembers what a decision carries: a rule to keep for the session, or the answers to a question', async () => {
      const s = await suite.start();
      const tool = await ask(s.lease, s.turn.id);
      const question = await ask(s.lease, s.turn.id, { kind: 'question', toolUseId: 'toolu_q', tool: 'AskUserQuestion', input: { questions: [{ question: 'Which?' }] } });
      expect(await store.decideApproval({ tenant: 'default', id: tool.approval.id, status: 'allowed', decidedBy: 'person', remember: 'session' })).toMatchObject({
        remember: 'session',
        answers: null,
      });
      expect(
        await store.decideApproval({ tenant: 'default', id: question.approval.id, status: 'allowed', decidedBy: 'person', answers: { 'Which?': 'the blue one' } }),
      ).toMatchObject({ kind: 'question', answers: { 'Which?': 'the blue one' } });
    });

    it('lists by status, key and turn, oldest first', async () => {
      const a = await suite.start({ key: 'chat:a' });
      const first = await ask(a.lease, a.turn.id);
      clock.advance(1);
      const second = await ask(a.lease, a.turn.id, { toolUseId: 'toolu_2' });
      const b = await suite.start({ key: 'chat:b' });
      clock.advance(1);
      const third = await ask(b.lease, b.turn.id);
      await store.decideApproval({ tenant: 'default', id: second.approval.id, status: 'allowed', decidedBy: 'person' });
      const ids = (filter: Parameters<typeof store.listApprovals>[0]) => store.listApprovals(filter).then((list) => list.map((x) => x.id));
      expect(await ids({ tenant: 'default' })).toEqual([first.approval.id, second.approval.id, third.approval.id]);
      expect(await ids({ tenant: 'default', status: 'pending' })).toEqual([first.approval.id, third.approval.id]);
      expect(await ids({ tenant: 'default', key: 'chat:b' })).toEqual([third.approval.id]);
      expect(await ids({ tenant: 'default', turnId: a.turn.id, status: 'pending' })).toEqual([first.approval.id]);
      expect(await ids({ tenant: 'default', limit: 1 })).toEqual([first.approval.id]);
    });

    it('expires what is past its time by the store clock, and what a stopped turn still waited on', async () => {
      const a = await suite.start({ key: 'chat:a' });
      const short = await ask(a.lease, a.turn.id, {}, 60_000);
      const long = await ask(a.lease, a.turn.id, { toolUseId: 'toolu_2' }, TTL * 100);
      const b = await suite.start({ key: 'chat:b' });
      const other = await ask(b.lease, b.turn.id, {}, TTL * 100);
      expect(await store.expireApprovals({ turnId: null, decidedBy: 'timeout' })).toEqual([]);
      clock.advance(60_000);
      const timedOut = await store.expireApprovals({ turnId: null, decidedBy: 'timeout' });
      expect(timedOut).toMatchObject([{ id: short.approval.id, status: 'expired', decidedBy: 'timeout', decidedAt: clock.now() }]);
      const withdrawn = await store.expireApprovals({ turnId: a.turn.id, decidedBy: 'interrupt' });
      expect(withdrawn.map((x) => [x.id, x.decidedBy])).toEqual([[long.approval.id, 'interrupt']]);
      expect((await store.getApproval('default', other.approval.id))?.status).toBe('pending');
      // Expired is decided: a late person's decision is refused.
      await expect(store.decideApproval({ tenant: 'default', id: short.approval.id, status: 'allowed', decidedBy: 'person' })).rejects.toMatchObject({
        code: 'ALREADY_DECIDED',
      });
    });

    it('tells a waiting process which of its approvals were decided, and records when the agent was given them', async () => {
      const s = await suite.start();
      const a = await ask(s.lease, s.turn.id);
      const b = await ask(s.lease, s.turn.id, { toolUseId: 'toolu_2' });
      expect(await store.decidedAmong([a.approval.id, b.approval.id, 'unknown'])).toEqual([]);
      const decided = await store.decideApproval({ tenant: 'default', id: b.approval.id, status: 'denied', decidedBy: 'person' });
      expect(await store.decidedAmong([a.approval.id, b.approval.id])).toEqual([decided]);
      clock.advance(10);
      await store.markAnswered([b.approval.id]);
      const answeredAt = (await store.getApproval('default', b.approval.id))!.answeredAt;
      expect(answeredAt).toBe(clock.now());
      clock.advance(10);
      await store.markAnswered([b.approval.id]);
      expect((await store.getApproval('default', b.approval.id))!.answeredAt).toBe(answeredAt);
    });

    it("recovery takes up a dead owner's running turn that waits on a person: queued again at the head, for the adopter", async () => {
      const s = await suite.start({ key: 'wait' }, OWNER);
      await ask(s.lease, s.turn.id);
      const behind = await suite.enqueue({ key: 'wait', owner: OWNER, prompt: 'next' });
      const plain = await suite.start({ key: 'plain' }, OWNER);
      const r = await store.recover({ isOwnerAlive: (o) => o === OTHER_OWNER, error: INTERRUPTED, adoptQueuedAs: OTHER_OWNER });
      expect(r.interrupted.map((t) => t.id)).toEqual([plain.turn.id]);
      expect(r.adopted.map((t) => [t.id, t.status, t.owner])).toEqual([
        [s.turn.id, 'queued', OTHER_OWNER],
        [behind.turn.id, 'queued', OTHER_OWNER],
      ]);
      expect((await store.getTurn(s.turn.id))?.startedAt).toBe(s.turn.startedAt);
      expect(await store.getSession(s.session.id)).toMatchObject({ status: 'idle', queued: 2, lease: null });
      // It is the head of its session's queue: the adopter gets the lease for it first.
      await expect(store.acquireLease({ sessionId: s.session.id, turnId: behind.turn.id, owner: OTHER_OWNER, ttlMs: TTL })).resolves.toMatchObject({ status: 'wait' });
      expect((await store.acquireLease({ sessionId: s.session.id, turnId: s.turn.id, owner: OTHER_OWNER, ttlMs: TTL })).status).toBe('acquired');
      expect((await store.stats()).turns).toMatchObject({ running: 1, queued: 1, interrupted: 1 });
    });

    it('without an adopter, recovery ends a turn that waits on a person like any other', async () => {
      const s = await suite.start({ key: 'wait' }, OWNER);
      await ask(s.lease, s.turn.id);
      const r = await store.recover({ isOwnerAlive: () => false, error: INTERRUPTED });
      expect(r.interrupted.map((t) => t.id)).toEqual([s.turn.id]);
      expect(r.adopted).toEqual([]);
      // Its approval ends with it, in the same transaction.
      expect(r.withdrawn.map((a) => [a.turnId, a.status, a.decidedBy])).toEqual([[s.turn.id, 'expired', 'interrupt']]);
      expect((await store.listApprovals({ tenant: 'default', status: 'pending' }))).toEqual([]);
    });

    it("goes with its key when the key is deleted", async () => {
      const s = await suite.start();
      const { approval } = await ask(s.lease, s.turn.id);
      await suite.finish(s.lease, s.turn.id);
      await store.deleteKey('default', s.turn.key);
      expect(await store.getApproval('default', approval.id)).toBeNull();
    });
  });
}
