import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isInside, resolveAllowedRoots } from '../../src/lib/paths.js';

let dir: string;
beforeEach(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'tether-roots-')));
  for (const d of ['a', 'b']) mkdirSync(join(dir, d));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('the allowed roots (TETHER_ALLOWED_ROOTS)', () => {
  it('are the base directory when unset, else each `:`-separated directory, relative ones from the base', () => {
    expect(resolveAllowedRoots(undefined, dir)).toEqual({ lexical: [dir], real: [dir] });
    symlinkSync(join(dir, 'b'), join(dir, 'link'));
    expect(resolveAllowedRoots(`a::${join(dir, 'link')}:`, dir)).toEqual({ lexical: [join(dir, 'a'), join(dir, 'link')], real: [join(dir, 'a'), join(dir, 'b')] });
  });

  it('refuse a root that is not an existing directory, and a setting that names none', () => {
    writeFileSync(join(dir, 'file'), '');
    expect(() => resolveAllowedRoots('a:nope', dir)).toThrow(expect.objectContaining({ code: 'INVALID_INPUT', message: 'allowed root nope (TETHER_ALLOWED_ROOTS) is not an existing directory' }));
    expect(() => resolveAllowedRoots('file', dir)).toThrow(/allowed root file \(TETHER_ALLOWED_ROOTS\) is not an existing directory/);
    expect(() => resolveAllowedRoots(': :', dir)).toThrow(/names no directory/);
  });

  it('contain a path at or below them, nothing beside them', () => {
    expect(isInside('/srv/a', '/srv/a')).toBe(true);
    expect(isInside('/srv/a', '/srv/a/b/c')).toBe(true);
    expect(isInside('/srv/a', '/srv/ab')).toBe(false);
    expect(isInside('/srv/a', '/srv')).toBe(false);
  });
});
