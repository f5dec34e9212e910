import type { ApprovalDecider, ApprovalRecord, ApprovalRemember, ApprovalRequest, ApprovalStatus } from '../../domain/approvals.js';
import type { Lease } from '../../domain/types.js';

/** Which approvals `listApprovals` returns: a tenant's, narrowed by any of the rest. */
export interface ApprovalFilter {
  tenant: string;
  status?: ApprovalStatus;
  key?: string;
  sessionId?: string;
  turnId?: string;
  /** At most this many, oldest first. */
  limit?: number;
}

export interface RequestApprovalInput {
  /** The lease the asking turn runs under: the request is fenced by it, like every write of a turn. */
  lease: Lease;
  turnId: string;
  /** Id of the new approval (the caller's, so a retried transaction writes the same one). */
  id: string;
  request: ApprovalRequest;
  /** How long it may stay pending before it expires. */
  ttlMs: number;
}

export interface DecideApprovalInput {
  tenant: string;
  id: string;
  status: Exclude<ApprovalStatus, 'pending'>;
  decidedBy: ApprovalDecider;
  message?: string | null;
  remember?: ApprovalRemember | null;
  answers?: Record<string, string> | null;
}

/**
 * Approvals: what a running turn asks a person, kept until decided. A turn's request is fenced by
 * its lease; a decision may come from any process or node, and exactly one wins.
 */
export interface Approvals {
  /**
   * Journals what the turn asks about its tool call `request.toolUseId`, pending until decided
   * or `ttlMs` passes. Asked again for the same call of the same turn (its agent restarted, or
   * resumed after parking), the approval already kept is returned, whatever its status, with
   * `created: false`. LEASE_LOST, and nothing written, unless the turn runs under `lease`.
   */
  requestApproval(input: RequestApprovalInput): Promise<{ approval: ApprovalRecord; created: boolean }>;

  /**
   * Decides a pending approval of `tenant`: NOT_FOUND when it has none by that id (another
   * tenant's included), ALREADY_DECIDED when it was decided (or expired) before.
   */
  decideApproval(input: DecideApprovalInput): Promise<ApprovalRecord>;

  /** Of the approvals named (any tenant), those no longer pending: what a waiting process polls. */
  decidedAmong(ids: readonly string[]): Promise<ApprovalRecord[]>;

  /** Records that the agent was given these approvals' decisions. */
  markAnswered(ids: readonly string[]): Promise<void>;

  /** The tenant's approval by id, or null. */
  getApproval(tenant: string, id: string): Promise<ApprovalRecord | null>;

  /** The tenant's approvals, oldest first. */
  listApprovals(filter: ApprovalFilter): Promise<ApprovalRecord[]>;

  /**
   * Ends the pending approvals of a turn that is over or stopped (`decidedBy: 'interrupt'`), or
   * of every turn whose approvals are past their expiry by the store clock (`turnId` null,
   * `decidedBy: 'timeout'`): they become `expired`. Returns them, for their events.
   */
  expireApprovals(input: { turnId: string | null; decidedBy: 'interrupt' | 'timeout'; limit?: number }): Promise<ApprovalRecord[]>;
}
