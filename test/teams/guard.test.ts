import { describe, expect, it } from 'vitest';
import { AskGuard } from '../../src/teams/guard.js';

const conv = (key: string, tenant = 't') => ({ tenant, key });

describe('AskGuard: the wait-for graph of team asks', () => {
  it('refuses an ask whose target waits, through other asks, on the caller (a deadlock), and nothing else', () => {
    const guard = new AskGuard({ maxDepth: 8, maxAsks: 8 });
    // B was asked by A (team:A->B runs B's agent); B asks C; C asks A.
    const b = guard.admit('b', conv('team:A->B'), conv('team:B->C'));
    const c = guard.admit('c', conv('team:B->C'), conv('team:C->A'));
    // A asking B on the conversation B is busy in (team:A->B waits on team:B->C which waits on team:C->A).
    expect(() => guard.admit('a', conv('team:C->A'), conv('team:A->B'))).toThrow(expect.objectContaining({ code: 'ASK_LOOP' }));
    // Another conversation with B is not part of the cycle: allowed.
    const other = guard.admit('a', conv('team:C->A'), conv('team:A->D'));
    other.end();
    // Once the chain has answered, the same ask is fine.
    c.end();
    b.end();
    expect(() => guard.admit('a', conv('team:C->A'), conv('team:A->B')).end()).not.toThrow();
  });

  it('keeps tenants apart: the same keys of another tenant are other conversations', () => {
    const guard = new AskGuard({ maxDepth: 8, maxAsks: 8 });
    guard.admit('b', conv('team:A->B', 'acme'), conv('team:B->A', 'acme'));
    expect(() => guard.admit('a', conv('team:B->A', 'acme'), conv('team:A->B', 'acme'))).toThrow(expect.objectContaining({ code: 'ASK_LOOP' }));
    expect(() => guard.admit('a', conv('team:B->A', 'other'), conv('team:A->B', 'other'))).not.toThrow();
  });

  it('bounds the depth of a chain of asks and the asks one team has waiting', () => {
    const guard = new AskGuard({ maxDepth: 2, maxAsks: 2 });
    const first = guard.admit('a', null, conv('team:A->B'));
    expect(first.depth).toBe(1);
    const second = guard.admit('b', conv('team:A->B'), conv('team:B->C'));
    expect(second.depth).toBe(2);
    expect(() => guard.admit('c', conv('team:B->C'), conv('team:C->D'))).toThrow(expect.objectContaining({ code: 'LIMIT_REACHED', message: expect.stringMatching(/TETHER_TEAMS_MAX_DEPTH/) }));

    guard.admit('a', null, conv('team:A->X'));
    expect(guard.waiting()).toEqual({ a: 2, b: 1 });
    expect(() => guard.admit('a', null, conv('team:A->Y'))).toThrow(expect.objectContaining({ code: 'LIMIT_REACHED', message: expect.stringMatching(/TETHER_TEAMS_MAX_ASKS/) }));
    first.end();
    first.end();
    expect(guard.waiting()).toEqual({ a: 1, b: 1 });
    expect(() => guard.admit('a', null, conv('team:A->Y'))).not.toThrow();
  });

  it('an ask from outside any conversation (a person through tether mcp) cannot close a loop', () => {
    const guard = new AskGuard({ maxDepth: 4, maxAsks: 4 });
    guard.admit('a', null, conv('team:A->B'));
    expect(() => guard.admit('a', null, conv('team:A->B'))).not.toThrow();
  });
});
