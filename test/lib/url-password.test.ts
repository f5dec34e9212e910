import { describe, expect, it } from 'vitest';
import { hideUrlPasswords } from '../../src/lib/url-password.js';

describe('hideUrlPasswords', () => {
  it('hides the password of every URL in a text and leaves the rest as written', () => {
    expect(hideUrlPasswords('postgres://tether:s3cr%40t@db:5432/fleet')).toBe('postgres://tether:***@db:5432/fleet');
    expect(hideUrlPasswords('a postgres://u:p@h/db and http://v:q@x')).toBe('a postgres://u:***@h/db and http://v:***@x');
    expect(hideUrlPasswords('postgres://tether@db/fleet')).toBe('postgres://tether@db/fleet');
  });
});
