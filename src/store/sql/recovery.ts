import type { SessionRecord, TurnRecord } from '../../domain/types.js';
import { askOnce, byAge, isAbandoned, isCapped, runsUnderLease } from '../rules/index.js';
import type { SessionRow, TurnRow } from '../rows.js';
import type { RecoverInput, RecoverResult } from '../store.js';
import { closeSession } from './lifecycle.js';
import { liveTotal, returned, toTurn, turnRow } from './lookups.js';
import { sql } from './query.js';
import { SWEEPS } from './sweeps.js';
import type { Tx } from './transaction.js';
import type { ApprovalRecord } from '../../domain/approvals.js';
import { expireApprovals, waitsOnPerson } from './approvals.js';
import { endQueuedTurn, endRunningTurn, requeueWaiting } from './turn-endings.js';

/** What the janitor runs: recovery of dead owners' turns, idle expiry, the session cap. */

export async function recover(tx: Tx, input: RecoverInput): Promise<RecoverResult> {
  const d = tx.dialect;
  const isAlive = askOnce(input.isOwnerAlive);
  const interrupted: TurnRecord[] = [];
  const adopted: TurnRecord[] = [];
  const withdrawn: ApprovalRecord[] = [];
  let freed = 0;

  const held = await tx.rows<SessionRow>(SWEEPS.heldLeases(d));
  const now = await tx.now();
  // A running turn is ended, unless it waits on a person: then it can go on from the decision.
  const endOrTakeUp = async (turn: TurnRow): Promise<void> => {
    if (input.adoptQueuedAs && (await waitsOnPerson(tx, turn.id))) adopted.push(await requeueWaiting(tx, turn, input.adoptQueuedAs));
    else {
      interrupted.push(await endRunningTurn(tx, turn, now, input.error));
      withdrawn.push(...(await expireApprovals(tx, { turnId: turn.id, decidedBy: 'interrupt' })));
    }
  };
  for (const session of held) {
    if (!isAbandoned(session, now, isAlive)) continue;
    for (const turn of await tx.rows<TurnRow>(sql`SELECT * FROM turns WHERE session_id = ${session.id} AND status = 'running'`)) {
      await endOrTakeUp(turn);
    }
    await tx.exec(
      sql`UPDATE sessions SET lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL,
          status = CASE WHEN live = ${d.bool(true)} THEN 'idle' ELSE status END
        WHERE id = ${session.id}`,
    );
    freed += 1;
  }

  type ActiveRow = TurnRow & { session_lease_token: string | null; session_lease_epoch: number | null };
  for (const found of await tx.rows<ActiveRow>(SWEEPS.activeTurns())) {
    // Taken up in this pass already (it waited on a person).
    if (adopted.some((t) => t.id === found.id)) continue;
    const queued = found.status === 'queued';
    const seen = { lease_token: found.session_lease_token, lease_epoch: found.session_lease_epoch };
    if (queued ? isAlive(found.owner) : runsUnderLease(seen, found)) continue;
    // Lock the session before changing its turn; one held elsewhere is left to the next pass.
    const session = await tx.row<SessionRow>(sql`SELECT * FROM sessions WHERE id = ${found.session_id}${d.skipLocked}`);
    const turn = session ? await turnRow(tx, found.id) : undefined;
    if (!session || !turn || turn.status !== found.status) continue;
    if (queued) {
      if (input.adoptQueuedAs) {
        // Never started, so running it now cannot repeat anything: the prompt is not lost.
        const row = await returned<TurnRow>(tx, sql`UPDATE turns SET owner = ${input.adoptQueuedAs} WHERE id = ${turn.id} RETURNING *`, 'turn', turn.id);
        adopted.push(toTurn(tx, row));
      } else {
        interrupted.push(await endQueuedTurn(tx, turn, now, input.error));
      }
    } else if (!runsUnderLease(session, turn)) {
      await endOrTakeUp(turn);
    }
  }
  adopted.sort(byAge);
  return { interrupted, freed, adopted, withdrawn };
}

export async function sweepExpired(tx: Tx, limit: number): Promise<SessionRecord[]> {
  const now = await tx.now();
  const rows = await tx.rows<SessionRow>(SWEEPS.expiry(tx.dialect, now, Math.max(0, Math.trunc(limit))));
  const closed: SessionRecord[] = [];
  for (const row of rows) closed.push(await closeSession(tx, row, 'expired', now));
  return closed;
}

export async function enforceCap(tx: Tx, maxSessions: number, limit: number): Promise<SessionRecord[]> {
  if (!isCapped(maxSessions)) return [];
  await tx.lock('cap');
  const now = await tx.now();
  const count = Math.min((await liveTotal(tx)) - maxSessions, Math.trunc(limit));
  if (count <= 0) return [];
  const closed: SessionRecord[] = [];
  for (const row of await tx.rows<SessionRow>(SWEEPS.lru(tx.dialect, now, count))) closed.push(await closeSession(tx, row, 'evicted', now));
  return closed;
}
