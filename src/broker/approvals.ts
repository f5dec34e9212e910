import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import type { PermissionAnswer, PermissionAsk } from '../agents/agent.js';
import { ruleFor } from '../domain/approval-rules.js';
import { continuationPrompt, expiredMessage, statusOf, type ApprovalDecision, type ApprovalRecord } from '../domain/approvals.js';
import { every, isoNow, type Timer } from '../domain/clock.js';
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

/** What the asks of one turn share with the turn that runs them. */
export interface TurnAsks {
  /** Set once the turn has asked anything: its approvals may need withdrawing when it ends. */
  asked: boolean;
  /** Set when the turn parked: an approval waited longer than `approvalParkSec`, so its agent was stopped. */
  parked: ApprovalRecord | null;
  /** Allowed calls the agent was told to make again after parking: each runs once, unasked. */
  recalls: ApprovalRecord[];
}

/** What the agent is told as its turn parks (Claude Code shows it its own words for an interrupt). */
const PARK_MESSAGE = 'A person has not decided this tool call yet; the conversation goes on once they have.';

interface Waiting {
  tenant: string;
  finish(decided: ApprovalRecord): void;
}

/**
 * Approvals, as this process handles them: the turns it runs ask here (journaled, announced,
 * waited for), and decisions made here reach those turns at once; a decision taken in another
 * process (or on another node) reaches them from the store, which is the truth, read for all the
 * waiting turns of the process in one statement a second. A turn whose approval waits longer
 * than `approvalParkSec` parks: its agent process is given back, and the turn goes on (a new
 * process resuming the conversation) once the decision is taken.
 */
export class ApprovalDesk {
  readonly #ctx: ApprovalContext;
  /** The approvals this process waits on, by id. */
  readonly #waiting = new Map<string, Waiting>();
  #poller: Timer | null = null;
  #polling = false;

  constructor(ctx: ApprovalContext) {
    this.#ctx = ctx;
  }

  /**
   * How a running turn asks: its agent's permission prompts become approvals of the turn, each
   * answered with its decision, or a denial when it expires or the turn stops first. One that
   * waits past the park time stops the agent (`asks.parked`): see `goOn`.
   */
  askerFor(turn: TurnRecord, session: SessionRecord, held: HeldLease, turnSignal: AbortSignal, asks: TurnAsks): (ask: PermissionAsk) => Promise<PermissionAnswer> {
    return async (ask) => {
      asks.asked = true;
      const recalled = asks.recalls.findIndex((a) => a.tool === ask.tool && isDeepStrictEqual(a.input, ask.input));
      if (recalled >= 0) return answerOf(asks.recalls.splice(recalled, 1)[0]!);
      const { store, config } = this.#ctx;
      const ttlMs = (session.config.approvalTimeoutSec ?? config.approvalTimeoutSec) * 1000;
      const request = { kind: ask.kind, toolUseId: ask.toolUseId, tool: ask.tool, input: ask.input, title: ask.title, suggestions: ask.suggestions };
      const ruled = ask.kind === 'tool' ? ruleFor(session.config.approvalRules, ask, session.config.cwd) : null;
      const remembered = ruled === null && ask.kind === 'tool' && (await this.#remembered(session, ask));
      const { approval, created } = await store.requestApproval({ lease: held.lease, turnId: turn.id, id: randomUUID(), request, ttlMs });
      if (created) this.#announce('approval.requested', approval);
      let decided: ApprovalRecord | null = approval;
      if (approval.status === 'pending' && ruled) {
        const status = ruled.decision === 'deny' ? 'denied' : 'allowed';
        const message = `${status} by the session's rule ${ruled.rule}`;
        decided = await this.#settle(approval, () => store.decideApproval({ tenant: turn.tenant, id: approval.id, status, decidedBy: 'rule', message }));
      } else if (approval.status === 'pending' && remembered) {
        decided = await this.#settle(approval, () => store.decideApproval({ tenant: turn.tenant, id: approval.id, status: 'allowed', decidedBy: 'rule', remember: 'session' }));
      } else if (approval.status === 'pending') {
        // A call beside one that parked the turn parks with it.
        decided = asks.parked ? null : await this.#wait(approval, { turnSignal, askSignal: ask.signal, parkAfterMs: config.approvalParkSec * 1000, parked: () => asks.parked !== null });
      }
      if (decided === null) {
        asks.parked ??= approval;
        return { behavior: 'deny', message: PARK_MESSAGE, interrupt: true };
      }
      if (decided !== approval) this.#announce('approval.decided', decided);
      await this.#answered([decided]);
      return answerOf(decided);
    };
  }

  /**
   * A turn that parked (or was taken up again after a restart while it waited on a person): waits,
   * with no agent process, until every approval whose decision its agent was not given is decided
   * (or expires), announces them, and returns what its agent is told to go on (null: nothing was
   * open). INTERRUPTED when the turn is stopped meanwhile.
   */
  async goOn(turn: TurnRecord, signal: AbortSignal, asks: TurnAsks): Promise<string | null> {
    const open = (await this.#ctx.store.listApprovals({ tenant: turn.tenant, turnId: turn.id })).filter((a) => a.answeredAt === null);
    if (open.length === 0) return null;
    const decided = await Promise.all(
      open.map(async (a) => {
        const d = a.status === 'pending' ? ((await this.#wait(a, { turnSignal: signal })) ?? a) : a;
        this.#announce('approval.decided', d);
        return d;
      }),
    );
    if (signal.aborted) throw new TetherError(ErrorCode.INTERRUPTED, 'the turn was interrupted while it waited for a person');
    await this.#answered(decided);
    asks.recalls.push(...decided.filter((a) => a.status === 'allowed' && a.kind === 'tool'));
    return continuationPrompt(decided);
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
    this.#waiting.get(id)?.finish(decided);
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

  /** Ends the approvals past their expiry (the janitor): those of turns that wait here go on at once. */
  async expireDue(): Promise<number> {
    const expired = await this.#ctx.store.expireApprovals({ turnId: null, decidedBy: 'timeout' });
    for (const approval of expired) this.#waiting.get(approval.id)?.finish(approval);
    return expired.length;
  }

  /** Whether the session allowed a call like this before, with "remember": the agent suggested the same rules. */
  async #remembered(session: SessionRecord, ask: PermissionAsk): Promise<boolean> {
    if (ask.suggestions.length === 0) return false;
    const allowed = await this.#ctx.store.listApprovals({ tenant: session.tenant, sessionId: session.id, status: 'allowed' });
    return allowed.some((a) => a.remember === 'session' && a.tool === ask.tool && isDeepStrictEqual(a.suggestions, ask.suggestions));
  }

  /**
   * Waits for the decision: a person's (here or elsewhere), the expiry, or the turn stopping
   * (`expired`, by interrupt). Null when the turn parks first: `parkAfterMs` passed, or the agent
   * stopped asking because another call of the same turn parked (`parked()`).
   */
  #wait(
    approval: ApprovalRecord,
    o: { turnSignal: AbortSignal; askSignal?: AbortSignal; parkAfterMs?: number; parked?: () => boolean },
  ): Promise<ApprovalRecord | null> {
    const { clock, store } = this.#ctx;
    return new Promise((resolve) => {
      let done = false;
      const finish = (decided: ApprovalRecord | null): void => {
        if (done) return;
        done = true;
        this.#waiting.delete(approval.id);
        if (this.#waiting.size === 0) this.#stopPolling();
        expiry.cancel();
        park?.cancel();
        o.turnSignal.removeEventListener('abort', onAbort);
        o.askSignal?.removeEventListener('abort', onAbort);
        resolve(decided);
      };
      const end = (by: 'timeout' | 'interrupt'): void =>
        void this.#settle(approval, () => store.decideApproval({ tenant: approval.tenant, id: approval.id, status: 'expired', decidedBy: by })).then(finish);
      const onAbort = (): void => {
        // The agent stopped asking because the turn parked on another of its calls: this one waits too.
        if (!o.turnSignal.aborted && o.parked?.()) finish(null);
        else end('interrupt');
      };
      this.#waiting.set(approval.id, { tenant: approval.tenant, finish });
      this.#poller ??= every(clock, DECISION_POLL_MS, () => void this.#poll());
      const expiry = clock.timeout(Math.max(0, approval.expiresAt - clock.now()), () => end('timeout'));
      const park = o.parkAfterMs !== undefined && o.parkAfterMs < approval.expiresAt - clock.now() ? clock.timeout(o.parkAfterMs, () => finish(null)) : null;
      if (o.turnSignal.aborted || o.askSignal?.aborted) onAbort();
      else {
        o.turnSignal.addEventListener('abort', onAbort, { once: true });
        o.askSignal?.addEventListener('abort', onAbort, { once: true });
      }
    });
  }

  /** Which of the approvals this process waits on were decided elsewhere: one read for all. */
  async #poll(): Promise<void> {
    if (this.#polling || this.#waiting.size === 0) return;
    this.#polling = true;
    try {
      for (const decided of await this.#ctx.store.decidedAmong([...this.#waiting.keys()])) this.#waiting.get(decided.id)?.finish(decided);
    } catch (err) {
      this.#ctx.log.warn({ err, waiting: this.#waiting.size }, 'could not read the approvals waited on; will retry');
    } finally {
      this.#polling = false;
    }
  }

  #stopPolling(): void {
    this.#poller?.cancel();
    this.#poller = null;
  }

  /** Records that the agent was given these decisions (a turn taken up after a restart tells it the others). */
  async #answered(approvals: ApprovalRecord[]): Promise<void> {
    await this.#ctx.store
      .markAnswered(approvals.map((a) => a.id))
      .catch((err: unknown) => this.#ctx.log.warn({ err, turnId: approvals[0]?.turnId }, 'could not record that the agent was given a decision'));
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
    this.#ctx.emitter.emit(approvalEvent(type, approval, isoNow(this.#ctx.clock)));
  }
}

/** The event that announces an approval (the record, with its type and time). */
export function approvalEvent(type: ApprovalEvent['type'], approval: ApprovalRecord, at: string): ApprovalEvent {
  return { type, ...approvalToJSON(approval), at };
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
