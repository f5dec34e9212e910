/**
 * Bounds of free-form JSON, in one place: session metadata, the contents of an imported bundle,
 * and whole request bodies. Validators (zod's `z.json()`, JSON.stringify) recurse, so a value
 * nested a few thousand levels deep overflows the stack; these bounds are checked first, by a
 * walk that does not recurse, so such a value is refused as INVALID_INPUT before anything reads it.
 */
export const JSON_BOUNDS = {
  /** Levels of objects and arrays in one free-form value (a metadata value, a label filter…). */
  fieldDepth: 32,
  /**
   * Levels in a whole document: a request body or a bundle. Its envelope takes some (a bundle's
   * transcript entry sits 5 levels down, its tool inputs deeper), so it is the field's bound doubled.
   */
  documentDepth: 64,
  /** A session's metadata, serialized, at most (bytes of its JSON text). */
  metadataBytes: 16_384,
} as const;

/**
 * How `value` breaks `maxDepth` (`"nested deeper than 32 levels"`), or null when it does not.
 * A scalar is 0 levels deep, `{}` and `[]` are 1, `{"a":[]}` is 2. Iterative: any depth is safe.
 */
export function depthProblem(value: unknown, maxDepth: number): string | null {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth + 1 > maxDepth) return `nested deeper than ${maxDepth} levels`;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return null;
}
