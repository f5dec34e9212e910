import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import type { PermissionAnswer, PermissionAsk } from '../agents/agent.js';
import { expiredMessage, statusOf, type ApprovalDecision, type ApprovalRecord } from '../domain/approvals.js';
import { every, isoNow } from '../domain/clock.js';
import type { ApprovalEvent } from '../domain/events.js';
import { approvalToJSON } from '../domain/json.js';
import type { SessionRecord, TurnRecord } from '../domain/types.js';
import { ErrorCode, TetherError, invalidInput, isTetherError } from '../errors.js';
import type { ApprovalFilter } from '../store/store.js';
import type { BrokerContext } from './context.js';
import type { HeldLease } from './leases.js';

/** How often a turn waiting on a person looks in the store for a decision taken in another process. */
const DECISION_POLL_MS = 1_000;

const PRINTABLE = /^[^\p{Cc}]*$/u;

/** A person's decision as the library, the CLI and HTTP take it (HTTP derives its schema from this). */
export const approvalDecisionSchema = z
  .object({
    decision: z.enum(['allow', 'deny']),
    /** Told to the agent: why it was denied, or a note with an allow. */
    message: z.string().min(1).max(10_000).optional(),
    /** `session`: allow this tool (as the agent suggested) for the rest of the session. */
    remember: z.literal('session').optional(),
    /** A question's answers: question text → answer. */
    answers: z.record(z.string().min(1).max(10_000), z.string().max(10_000).regex(PRINTABLE)).optional(),
  })
  .strict();

export type ApprovalContext = Pick<BrokerContext, 'store' | 'clock' | 'log' | 'config' | 'emitter'>;

/** What `askerFor` reports back to the turn that runs the asks. */
export interface TurnAsks {
  /** Set once the turn has asked anything: its approvals may need withdrawing when it ends. */
  asked: boolean;
}

/**
 * Approvals, as this process handles them: the turns it runs ask here (journaled, announced,
 * waited for), and decisions made here reach those turns at once; a decision taken in another
 * process (or on another node) reaches them from the store, which is the truth.
 */
export class ApprovalDesk {
  readonly #ctx: ApprovalContext;
  /** The turns of this process waiting for a decision, by approval id. */
  readonly #waiting = new Map<string, (decided: ApprovalRecord) => void>();

  constructor(ctx: ApprovalContext) {
    this.#ctx = ctx;
  }

  /**
   * How a running turn asks: its agent's permission prompts become approvals of the turn, each
   * answered with its decision (or a denial when it expires or the turn stops first).
   */
  askerFor(turn: TurnRecord, session: SessionRecord, held: HeldLease, turnSignal: AbortSignal, asks: TurnAsks): (ask: PermissionAsk) => Promise<PermissionAnswer> {
    return async (ask) => {
      asks.asked = true;
      const { store, config } = this.#ctx;
      const ttlMs = (session.config.approvalTimeoutSec ?? config.approvalTimeoutSec) * 1000;
      const request = { kind: ask.kind, toolUseId: ask.toolUseId, tool: ask.tool, input: ask.input, title: ask.title, suggestions: ask.suggestions };
      const remembered = ask.kind === 'tool' && (await this.#remembered(session, ask));
      const { approval, created } = await store.requestApproval({ lease: held.lease, turnId: turn.id, id: randomUUID(), request, ttlMs });
      if (created) this.#announce('approval.requested', approval);
      let decided = approval;
      if (decided.status === 'pending' && remembered) {
        decided = await this.#settle(approval, () => store.decideApproval({ tenant: turn.tenant, id: approval.id, status: 'allowed', decidedBy: 'rule', remember: 'session' }));
      } else if (decided.status === 'pending') {
        decided = await this.#wait(approval, AbortSignal.any([ask.signal, turnSignal]));
      }
      if (decided !== approval) this.#announce('approval.decided', decided);
      return answerOf(decided);
    };
  }

  /** A person decides: NOT_FOUND, ALREADY_DECIDED or INVALID_INPUT, or the decided approval. */
  async decide(tenant: string, id: string, input: unknown): Promise<ApprovalRecord> {
    const parsed = approvalDecisionSchema.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw invalidInput(`invalid decision${issue?.path.length ? ` ${issue.path.join('.')}` : ''}: ${issue?.message ?? 'invalid'}`);
    }
    const decision: ApprovalDecision = parsed.data;
    if (decision.decision === 'deny' && (decision.remember || decision.answers)) {
      throw invalidInput('a denial carries only a message: remember and answers go with an allow');
    }
    const current = await this.#ctx.store.getApproval(tenant, id);
    if (!current) throw new TetherError(ErrorCode.NOT_FOUND, `no approval ${id}`);
    if (decision.answers && current.kind !== 'question') throw invalidInput(`approval ${id} is a tool call, not a question: it takes no answers`);
    const decided = await this.#ctx.store.decideApproval({
      tenant,
      id,
      status: statusOf(decision.decision),
      decidedBy: 'person',
      message: decision.message ?? null,
      remember: decision.remember ?? null,
      answers: decision.answers ?? null,
    });
    this.#waiting.get(id)?.(decided);
    return decided;
  }

  get(tenant: string, id: string): Promise<ApprovalRecord | null> {
    return this.#ctx.store.getApproval(tenant, id);
  }

  list(filter: ApprovalFilter): Promise<ApprovalRecord[]> {
    return this.#ctx.store.listApprovals(filter);
  }

  /**
   * The turn is over: approvals it still waits on (it stopped while asking) are withdrawn,
   * `expired` by `interrupt`, and announced on its stream before its end is.
   */
  async withdraw(turn: TurnRecord): Promise<void> {
    const withdrawn = await this.#ctx.store.expireApprovals({ turnId: turn.id, decidedBy: 'interrupt' });
    for (const approval of withdrawn) this.#announce('approval.decided', approval);
  }

  /** Ends the approvals past their expiry (the janitor): those of turns that run here answer at once. */
  async expireDue(): Promise<number> {
    const expired = await this.#ctx.store.expireApprovals({ turnId: null, decidedBy: 'timeout' });
    for (const approval of expired) this.#waiting.get(approval.id)?.(approval);
    return expired.length;
  }

  /** Whether the session allowed a call like this before, with "remember": the agent suggested the same rules. */
  async #remembered(session: SessionRecord, ask: PermissionAsk): Promise<boolean> {
    if (ask.suggestions.length === 0) return false;
    const allowed = await this.#ctx.store.listApprovals({ tenant: session.tenant, sessionId: session.id, status: 'allowed' });
    return allowed.some((a) => a.remember === 'session' && a.tool === ask.tool && isDeepStrictEqual(a.suggestions, ask.suggestions));
  }

  /** Waits for the decision: a person's (here or elsewhere), the expiry, or the turn stopping. */
  #wait(approval: ApprovalRecord, signal: AbortSignal): Promise<ApprovalRecord> {
    const { clock, store } = this.#ctx;
    return new Promise((resolve) => {
      let done = false;
      const finish = (decided: ApprovalRecord): void => {
        if (done) return;
        done = true;
        this.#waiting.delete(approval.id);
        poll.cancel();
        expiry.cancel();
        signal.removeEventListener('abort', onAbort);
        resolve(decided);
      };
      const end = (by: 'timeout' | 'interrupt'): void =>
        void this.#settle(approval, () => store.decideApproval({ tenant: approval.tenant, id: approval.id, status: 'expired', decidedBy: by })).then(finish);
      const onAbort = (): void => end('interrupt');
      this.#waiting.set(approval.id, finish);
      const poll = every(clock, DECISION_POLL_MS, () => {
        store.getApproval(approval.tenant, approval.id).then(
          (current) => current && current.status !== 'pending' && finish(current),
          (err: unknown) => this.#ctx.log.warn({ err, approvalId: approval.id }, 'could not read an approval; will retry'),
        );
      });
      const expiry = clock.timeout(Math.max(0, approval.expiresAt - clock.now()), () => end('timeout'));
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Writes an ending nobody else decided. Someone may have decided first (their decision is the
   * answer); a store that cannot be reached still gets the turn an answer: a denial, kept locally.
   */
  async #settle(approval: ApprovalRecord, write: () => Promise<ApprovalRecord>): Promise<ApprovalRecord> {
    try {
      return await write();
    } catch (err) {
      if (isTetherError(err, ErrorCode.ALREADY_DECIDED)) {
        const current = await this.#ctx.store.getApproval(approval.tenant, approval.id).catch(() => null);
        if (current) return current;
      }
      this.#ctx.log.warn({ err, approvalId: approval.id }, 'could not record the end of an approval; the call is refused');
      return { ...approval, status: 'expired', decidedBy: 'interrupt', decidedAt: this.#ctx.clock.now() };
    }
  }

  #announce(type: ApprovalEvent['type'], approval: ApprovalRecord): void {
    this.#ctx.emitter.emit({ type, ...approvalToJSON(approval), at: isoNow(this.#ctx.clock) });
  }
}

/** What the agent is told: run the call (with a question's answers), or why not. */
export function answerOf(approval: ApprovalRecord): PermissionAnswer {
  switch (approval.status) {
    case 'allowed':
      return {
        behavior: 'allow',
        remember: approval.remember === 'session',
        ...(approval.kind === 'question' && approval.answers ? { input: { ...approval.input, answers: approval.answers } } : {}),
      };
    case 'denied':
      return { behavior: 'deny', message: approval.message ?? 'A person denied this tool call.' };
    default:
      return { behavior: 'deny', message: expiredMessage(approval.decidedBy) };
  }
}
