import type { ApprovalRecord } from '../../domain/approvals.js';
import type { BackendName, CloseReason, Lease, SessionRecord, TurnError, TurnRecord } from '../../domain/types.js';
import type {
  AcquireLeaseInput,
  ApprovalFilter,
  DecideApprovalInput,
  RequestApprovalInput,
  AcquireLeaseResult,
  EnqueueTurnInput,
  EnqueueTurnResult,
  FinishTurnInput,
  FinishTurnResult,
  ImportSessionInput,
  RecoverInput,
  RecoverResult,
  SessionFilter,
  SessionPatch,
  SharedEvent,
  SharedEventFilter,
  SharedEventInput,
  Store,
  StoreStats,
  TranscriptEntry,
  TranscriptRef,
  TurnFilter,
  EndedTurn,
  EndedTurnFilter,
} from '../store.js';
import { leaseLost } from '../rules/index.js';
import * as approvals from './approvals.js';
import { enqueueTurn } from './enqueue.js';
import { sql } from './query.js';
import * as events from './events.js';
import * as leases from './leases.js';
import * as nodes from './nodes.js';
import * as reads from './reads.js';
import * as recovery from './recovery.js';
import * as changes from './session-changes.js';
import * as transcripts from './transcripts.js';
import type { Driver } from './transaction.js';

/**
 * The Store over any SQL driver: each operation is one transaction script of src/store/sql/ run
 * in a `driver.write`, or a read in a `driver.read`. The adapters (src/store/sqlite/,
 * src/store/postgres/) give the driver and add what only they have.
 */
export class SqlStore implements Store {
  readonly kind: string;
  readonly #driver: Driver;

  constructor(kind: string, driver: Driver) {
    this.kind = kind;
    this.#driver = driver;
  }

  now(): Promise<number> {
    return this.#driver.now();
  }

  close(): Promise<void> {
    return this.#driver.close();
  }

  // --- TurnJournal ---------------------------------------------------------------------------

  enqueueTurn(input: EnqueueTurnInput): Promise<EnqueueTurnResult> {
    return this.#driver.write((tx) => enqueueTurn(tx, input));
  }

  async acquireLease(input: AcquireLeaseInput): Promise<AcquireLeaseResult> {
    const [peek] = await this.#driver.statement<Parameters<typeof leases.peekSaysWait>[1] & object>((now) => leases.acquirePeekStatement(input, now));
    if (leases.peekSaysWait(input, peek)) return { status: 'wait' };
    return this.#driver.write((tx) => leases.acquireLease(tx, input));
  }

  async renewLease(lease: Lease, ttlMs: number): Promise<Lease> {
    const [renewed] = await this.renewLeases([lease], ttlMs);
    if (renewed) return renewed;
    const current = await this.#driver.read((r) => r.row<{ lease_epoch: number }>(sql`SELECT lease_epoch FROM sessions WHERE id = ${lease.sessionId}`));
    throw leaseLost(lease, current?.lease_epoch ?? null);
  }

  async renewLeases(held: readonly Lease[], ttlMs: number): Promise<Array<Lease | null>> {
    const d = this.#driver.dialect;
    const out: Array<Lease | null> = [];
    for (let i = 0; i < held.length; i += leases.RENEWALS_PER_STATEMENT) {
      const chunk = held.slice(i, i + leases.RENEWALS_PER_STATEMENT);
      const rows = await this.#driver.statement<leases.RenewedRow>((now) => leases.renewLeasesStatement(d, chunk, ttlMs, now), { urgent: true });
      out.push(...leases.renewedLeases(d, chunk, rows));
    }
    return out;
  }

  requestInterrupt(turnId: string): Promise<boolean> {
    return this.#driver.write((tx) => leases.requestInterrupt(tx, turnId));
  }

  async setAgentSession(lease: Lease, agentSessionId: string | null): Promise<void> {
    await this.#driver.write((tx) => leases.setAgentSession(tx, lease, agentSessionId));
  }

  finishTurn(input: FinishTurnInput): Promise<FinishTurnResult> {
    return this.#driver.write((tx) => leases.finishTurn(tx, input));
  }

  abandonTurn(turnId: string, error: TurnError): Promise<boolean> {
    return this.#driver.write((tx) => leases.abandonTurn(tx, turnId, error));
  }

  // --- Recovery ------------------------------------------------------------------------------

  recover(input: RecoverInput): Promise<RecoverResult> {
    return this.#driver.write((tx) => recovery.recover(tx, input));
  }

  sweepExpired(limit: number): Promise<SessionRecord[]> {
    return this.#driver.write((tx) => recovery.sweepExpired(tx, limit));
  }

  enforceCap(maxSessions: number, limit: number): Promise<SessionRecord[]> {
    return this.#driver.write((tx) => recovery.enforceCap(tx, maxSessions, limit));
  }

  // --- SessionChanges ------------------------------------------------------------------------

  closeSession(tenant: string, key: string, reason: CloseReason): Promise<SessionRecord | null> {
    return this.#driver.write((tx) => changes.closeSession(tx, tenant, key, reason));
  }

  deleteKey(tenant: string, key: string): Promise<number> {
    return this.#driver.write((tx) => changes.deleteKey(tx, tenant, key));
  }

  updateSession(tenant: string, key: string, patch: SessionPatch): Promise<SessionRecord> {
    return this.#driver.write((tx) => changes.updateSession(tx, tenant, key, patch));
  }

  importSession(input: ImportSessionInput): Promise<{ session: SessionRecord; closed: SessionRecord[] }> {
    return this.#driver.write((tx) => changes.importSession(tx, input));
  }

  // --- StoreReads ----------------------------------------------------------------------------

  getLiveSession(tenant: string, key: string): Promise<SessionRecord | null> {
    return this.#driver.read((r) => reads.getLiveSession(r, tenant, key));
  }

  getLatestSession(tenant: string, key: string): Promise<SessionRecord | null> {
    return this.#driver.read((r) => reads.getLatestSession(r, tenant, key));
  }

  getSession(id: string): Promise<SessionRecord | null> {
    return this.#driver.read((r) => reads.getSession(r, id));
  }

  listSessions(filter: SessionFilter): Promise<SessionRecord[]> {
    return this.#driver.read((r) => reads.listSessions(r, filter));
  }

  getTurn(id: string): Promise<TurnRecord | null> {
    return this.#driver.read((r) => reads.getTurn(r, id));
  }

  endedTurns(filter: EndedTurnFilter): Promise<EndedTurn[]> {
    return this.#driver.read((r) => reads.endedTurns(r, filter));
  }

  listTurns(filter: TurnFilter): Promise<TurnRecord[]> {
    return this.#driver.read((r) => reads.listTurns(r, filter));
  }

  stats(tenant?: string): Promise<StoreStats> {
    return this.#driver.read((r) => reads.stats(r, tenant));
  }

  // --- TranscriptMirror ----------------------------------------------------------------------

  appendTranscript(ref: TranscriptRef, projectKey: string, entries: TranscriptEntry[]): Promise<void> {
    return this.#driver.write((tx) => transcripts.appendTranscript(tx, ref, projectKey, entries));
  }

  loadTranscript(ref: TranscriptRef): Promise<TranscriptEntry[] | null> {
    return this.#driver.read((r) => transcripts.loadTranscript(r, ref));
  }

  listTranscripts(projectKey: string): Promise<Array<{ agentSessionId: string; mtime: number }>> {
    return this.#driver.read((r) => transcripts.listTranscripts(r, projectKey));
  }

  listTranscriptSubpaths(agentSessionId: string): Promise<string[]> {
    return this.#driver.read((r) => transcripts.listTranscriptSubpaths(r, agentSessionId));
  }

  deleteTranscript(ref: TranscriptRef): Promise<number> {
    return this.#driver.write((tx) => transcripts.deleteTranscript(tx, ref));
  }

  // --- EventJournal --------------------------------------------------------------------------

  async appendEvents(list: SharedEventInput[]): Promise<void> {
    if (list.length === 0) return;
    await this.#driver.write((tx) => events.appendEvents(tx, list));
  }

  readEvents(filter: SharedEventFilter): Promise<SharedEvent[]> {
    return this.#driver.read((r) => events.readEvents(r, filter));
  }

  lastEventId(): Promise<number> {
    return this.#driver.read((r) => events.lastEventId(r));
  }

  lastEventSeq(turnId: string): Promise<number> {
    return this.#driver.read((r) => events.lastEventSeq(r, turnId));
  }

  pruneEvents(olderThanMs: number): Promise<number> {
    return this.#driver.write((tx) => events.pruneEvents(tx, olderThanMs));
  }

  // --- NodeRegistry and UsageLimits ----------------------------------------------------------

  heartbeat(owner: string, ttlMs: number): Promise<void> {
    return this.#driver.write((tx) => nodes.heartbeat(tx, owner, ttlMs));
  }

  liveOwners(): Promise<string[]> {
    return this.#driver.read((r) => nodes.liveOwners(r));
  }

  runExclusive<T>(name: string, fn: () => Promise<T>): Promise<T | null> {
    return this.#driver.runExclusive(name, fn);
  }

  setUsageLimit(backend: BackendName, until: number, reason: string): Promise<void> {
    return this.#driver.write((tx) => nodes.setUsageLimit(tx, backend, until, reason));
  }

  getUsageLimit(backend: BackendName): Promise<{ until: number; reason: string } | null> {
    return this.#driver.read((r) => nodes.getUsageLimit(r, backend));
  }

  // --- Approvals -----------------------------------------------------------------------------

  requestApproval(input: RequestApprovalInput): Promise<{ approval: ApprovalRecord; created: boolean }> {
    return this.#driver.write((tx) => approvals.requestApproval(tx, input));
  }

  decideApproval(input: DecideApprovalInput): Promise<ApprovalRecord> {
    return this.#driver.write((tx) => approvals.decideApproval(tx, input));
  }

  decidedAmong(ids: readonly string[]): Promise<ApprovalRecord[]> {
    return this.#driver.read((r) => approvals.decidedAmong(r, ids));
  }

  markAnswered(ids: readonly string[]): Promise<void> {
    return this.#driver.write((tx) => approvals.markAnswered(tx, ids));
  }

  getApproval(tenant: string, id: string): Promise<ApprovalRecord | null> {
    return this.#driver.read((r) => approvals.getApproval(r, tenant, id));
  }

  listApprovals(filter: ApprovalFilter): Promise<ApprovalRecord[]> {
    return this.#driver.read((r) => approvals.listApprovals(r, filter));
  }

  expireApprovals(input: { turnId: string | null; decidedBy: 'interrupt' | 'timeout'; limit?: number }): Promise<ApprovalRecord[]> {
    return this.#driver.write((tx) => approvals.expireApprovals(tx, input));
  }
}
