/**
 * The shared behaviour suite of the Store port. Written only against `src/store/store.ts`, so
 * every adapter (SQLite, PostgreSQL) runs these same files through its own test file:
 *
 *   describeStoreBehaviour('sqlite file', async (clock) => ({ store, reopen, cleanup }));
 *
 * One file per concern under ./behaviour/, each given the Suite (the test's store and clock,
 * and helpers that run turns). Time is a ManualClock the adapter must use for `now()`: tests
 * move it instead of sleeping.
 */
import { afterEach, beforeEach, describe } from 'vitest';
import type { ManualClock } from '../../src/domain/clock.js';
import { approvalBehaviour } from './behaviour/approvals.js';
import { capBehaviour } from './behaviour/cap.js';
import { closeDeleteBehaviour } from './behaviour/close-delete.js';
import { continuationBehaviour } from './behaviour/continuations.js';
import { enqueueBehaviour } from './behaviour/enqueue.js';
import { eventBehaviour } from './behaviour/events.js';
import { expiryBehaviour } from './behaviour/expiry.js';
import { finishBehaviour } from './behaviour/finish.js';
import { leaseBehaviour } from './behaviour/leases.js';
import { lifecycleBehaviour } from './behaviour/lifecycle.js';
import { nodeBehaviour } from './behaviour/nodes.js';
import { readBehaviour } from './behaviour/reads.js';
import { recoverBehaviour } from './behaviour/recover.js';
import { rotateBehaviour } from './behaviour/rotate.js';
import { compactionBehaviour } from './behaviour/compaction.js';
import { sessionOperationBehaviour } from './behaviour/session-operations.js';
import { Suite, type StoreHarness } from './behaviour/suite.js';
import { transactionBehaviour } from './behaviour/transactions.js';
import { transcriptBehaviour } from './behaviour/transcripts.js';

export type { StoreHarness } from './behaviour/suite.js';

export function describeStoreBehaviour(name: string, open: (clock: ManualClock) => Promise<StoreHarness>): void {
  describe(`Store behaviour: ${name}`, () => {
    const suite = new Suite();

    beforeEach(async () => {
      await suite.open(open);
    });

    afterEach(async () => {
      await suite.harness.cleanup();
    });

    enqueueBehaviour(suite);
    leaseBehaviour(suite);
    finishBehaviour(suite);
    expiryBehaviour(suite);
    capBehaviour(suite);
    rotateBehaviour(suite);
    compactionBehaviour(suite);
    recoverBehaviour(suite);
    closeDeleteBehaviour(suite);
    readBehaviour(suite);
    transcriptBehaviour(suite);
    sessionOperationBehaviour(suite);
    continuationBehaviour(suite);
    eventBehaviour(suite);
    nodeBehaviour(suite);
    lifecycleBehaviour(suite);
    transactionBehaviour(suite);
    approvalBehaviour(suite);
  });
}
