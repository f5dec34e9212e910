import type { Tether } from '../../src/broker/api.js';
import type { ApprovalEvent } from '../../src/domain/events.js';

/** The next `approval.requested` of any turn. */
export function nextRequest(tether: Tether): Promise<ApprovalEvent> {
  return new Promise((resolve) => {
    const off = tether.on('approval.requested', (event) => {
      off();
      resolve(event as ApprovalEvent);
    });
  });
}
