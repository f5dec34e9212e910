import { describe, expect, it } from 'vitest';
import { parseLabel, validateKey, validateLabels, validateTenant } from '../../src/domain/keys.js';

describe('keys', () => {
  it('accepts printable keys of 1 to 256 characters, counting code points', () => {
    expect(validateKey('discord:123456')).toBe('discord:123456');
    expect(validateKey('team:frontend->backend')).toBe('team:frontend->backend');
    expect(validateKey('🙂'.repeat(256))).toHaveLength(512);
    expect(() => validateKey('🙂'.repeat(257))).toThrow(/257 characters/);
  });

  it.each(['', ' ', 'a\tb', 'a\u0085b', 'a\u2028b', 'x\u200Bx', 'x\uFEFF', 'a\uD800b'])('refuses %j', (key) => {
    expect(() => validateKey(key)).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
  });

  it('validates tenants and labels', () => {
    expect(validateTenant('acme-1.prod')).toBe('acme-1.prod');
    expect(() => validateTenant('')).toThrow();
    expect(() => validateTenant('a b')).toThrow();
    expect(parseLabel('user=42')).toEqual(['user', '42']);
    expect(parseLabel('note=a=b')).toEqual(['note', 'a=b']);
    expect(() => parseLabel('novalue')).toThrow(/name=value/);
    expect(() => validateLabels({ ok: 'x\n' })).toThrow();
    expect(() => validateLabels(Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`l${i}`, 'v'])))).toThrow(/32 labels/);
  });
});
