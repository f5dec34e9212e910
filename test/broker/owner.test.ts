import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { createOwnerId } from '../../src/broker/owner.js';

describe('owner liveness', () => {
  it('knows itself, other open brokers in this process, and forgets them once released', () => {
    const a = createOwnerId();
    const b = createOwnerId();
    expect(a.isAlive(a.id)).toBe(true);
    expect(a.isAlive(b.id)).toBe(true);
    b.release();
    expect(a.isAlive(b.id)).toBe(false);
    a.release();
  });

  it('treats a pid that has exited as dead, another host as alive', () => {
    const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
    const pid = Number(child.stdout.toString());
    const me = createOwnerId();
    expect(me.isAlive(`${hostname()}:${pid}:1:abcd`)).toBe(false);
    expect(me.isAlive(`another-host:${pid}:1:abcd`)).toBe(true);
    expect(me.isAlive(`${hostname()}:${process.ppid}:0:abcd`)).toBe(true);
    me.release();
  });

  it('does not mistake a recycled pid for the process that held the lease', () => {
    const me = createOwnerId();
    const [host, pid] = me.id.split(':');
    expect(me.isAlive(`${host}:${process.ppid}:1:abcd`)).toBe(process.platform !== 'linux');
    expect(me.isAlive(`${host}:${pid}:999:abcd`)).toBe(false);
    me.release();
  });
});
