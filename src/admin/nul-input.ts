import type { MiddlewareHandler } from 'hono';
import { invalidFields } from './problems';

// PostgreSQL text (and jsonb) cannot hold U+0000: a query would fail with a 500. Any admin input carrying it
// is refused as invalid instead, field by field, whatever route or schema it is meant for.

const MESSAGE = 'must not contain U+0000';

/** A query parameter (name or value) holding U+0000 (`%00`) is a 400 problem naming it. */
export const refuseNulInQuery: MiddlewareHandler = async (c, next) => {
  if (c.req.url.includes('%00')) {
    for (const [name, value] of new URL(c.req.url).searchParams) {
      if (`${name}${value}`.includes('\u0000')) throw invalidFields([{ field: name, message: MESSAGE }]);
    }
  }
  await next();
};

/** Throws a 400 problem naming a member of the parsed JSON body whose name or text holds U+0000. */
export function refuseNulInBody(text: string, value: unknown): void {
  // In JSON text, U+0000 can only be the escape \u0000 (a raw one is not JSON).
  const field = text.includes('\\u0000') ? memberWithNul(value) : undefined;
  if (field !== undefined) throw invalidFields([{ field, message: MESSAGE }]);
}

/** A member (as `a.0.b`, like a zod issue's path) holding U+0000. Iterative: a body may nest thousands of levels. */
function memberWithNul(root: unknown): string | undefined {
  type Node = { value: unknown; key: string; parent: Node | undefined };
  const pathOf = (node: Node): string => {
    const keys: string[] = [];
    for (let n: Node | undefined = node; n?.parent; n = n.parent) keys.push(n.key);
    return keys.reverse().join('.') || '(body)';
  };
  const stack: Node[] = [{ value: root, key: '', parent: undefined }];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (typeof node.value === 'string' && node.value.includes('\u0000')) return pathOf(node);
    if (typeof node.value !== 'object' || node.value === null) continue;
    for (const [key, value] of Object.entries(node.value)) {
      const child: Node = { value, key, parent: node };
      if (key.includes('\u0000')) return pathOf(child);
      stack.push(child);
    }
  }
  return undefined;
}
