import { describe, expect, it } from 'vitest';
import type { SessionRecord } from '../../../src/domain/types.js';
import type { Suite } from './suite.js';

export function rotateBehaviour(suite: Suite): void {
  const { enqueue, start, runTurn } = suite;

  describe('rotate hook', () => {
    it('closes the quiet session for the reason given and opens a new generation with the given config', async () => {
      const first = await runTurn({}, { context: { tokens: 190_000, window: 200_000, ratio: 0.95 } });
      const seen: SessionRecord[] = [];
      const r = await enqueue({
        config: { cwd: '/tmp/rotated' },
        rotate: (s) => {
          seen.push(s);
          return s.context.ratio > 0.9 ? 'context' : null;
        },
      });
      expect(seen.map((s) => s.id)).toEqual([first.session.id]);
      expect(r.created).toBe(true);
      expect(r.closed).toHaveLength(1);
      expect(r.closed[0]).toMatchObject({ id: first.session.id, status: 'closed', closeReason: 'context' });
      expect(r.session).toMatchObject({ generation: 2, config: { cwd: '/tmp/rotated' }, context: { tokens: 0, window: 0, ratio: 0 } });
      expect(r.turn.seq).toBe(2);
    });

    it('keeps the session when rotate answers null', async () => {
      const first = await runTurn();
      const r = await enqueue({ rotate: () => null });
      expect(r.created).toBe(false);
      expect(r.session.id).toBe(first.session.id);
    });

    it('is not asked while the session is busy', async () => {
      await start();
      let asked = 0;
      const r = await enqueue({
        rotate: () => {
          asked += 1;
          return 'context';
        },
      });
      expect(asked).toBe(0);
      expect(r.created).toBe(false);
    });
  });
}
