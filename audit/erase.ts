/**
 * Erases configured JSON Pointers (decisionLog.erase) from a record's input before it is
 * written, OPA-style: the pointer is listed in `erased` only when a value was actually removed.
 * Pure; never mutates its argument.
 */
export function eraseInput(input: unknown, pointers: readonly string[]): { input: unknown; erased: string[] } {
  if (pointers.length === 0) return { input, erased: [] };
  const copy = structuredClone(input) as unknown;
  const erased: string[] = [];
  for (const pointer of pointers) {
    const parts = pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    let node: unknown = copy;
    for (let i = 0; i < parts.length - 1 && node !== undefined; i++) {
      node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[parts[i]!] : undefined;
    }
    const last = parts[parts.length - 1]!;
    if (node !== null && typeof node === 'object' && Object.hasOwn(node, last)) {
      if (Array.isArray(node)) continue; // array elements are not erased by index: positions shift
      delete (node as Record<string, unknown>)[last];
      erased.push(pointer);
    }
  }
  return { input: copy, erased: erased.sort() };
}
