import type { z } from 'zod';
import { ConflictError, InvalidFieldsError, NotFoundError, type FieldProblem } from '../accounts/errors';
import { isDatabaseUnavailable } from '../db/availability';

/** An RFC 9457 problem. The admin API's only error shape; rendered by `problemResponse`. */
export class Problem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail?: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail ?? title);
  }
}

export const invalidFields = (errors: FieldProblem[]) =>
  new Problem(400, 'Invalid request', 'One or more fields are invalid.', { errors });

/** Field names are the JSON member or query parameter names as the client sent them. */
export function fromZod(error: z.ZodError): Problem {
  const field = (path: PropertyKey[]) => path.map(String).join('.') || '(body)';
  return invalidFields(
    error.issues.flatMap((issue) =>
      issue.code === 'unrecognized_keys'
        ? issue.keys.map((key) => ({ field: field([...issue.path, key]), message: 'is not a known field' }))
        : [{ field: field(issue.path), message: issue.message }],
    ),
  );
}

/**
 * Domain errors to problems (the database out of reach: 503 with Retry-After); anything unknown stays unknown
 * (a 500, logged, with no detail).
 */
export function toProblem(error: unknown): Problem | undefined {
  if (error instanceof Problem) return error;
  if (error instanceof NotFoundError) return new Problem(404, 'Not found', error.message);
  if (error instanceof ConflictError) return new Problem(409, 'Conflict', error.message);
  if (error instanceof InvalidFieldsError) return invalidFields(error.fields);
  if (isDatabaseUnavailable(error)) {
    return new Problem(503, 'Service unavailable', 'the database cannot be reached; try again shortly', {}, { 'Retry-After': '1' });
  }
  return undefined;
}

/** The admin routers' OpenAPIHono hook: a path or query that fails its schema is a 400 naming each field. */
export const validationProblems = (result: { success: true } | { success: false; error: z.ZodError }) =>
  result.success ? undefined : problemResponse(fromZod(result.error));

export function problemResponse(problem: Problem): Response {
  const body = {
    type: 'about:blank',
    title: problem.title,
    status: problem.status,
    ...(problem.detail ? { detail: problem.detail } : {}),
    ...problem.extra,
  };
  return new Response(JSON.stringify(body), {
    status: problem.status,
    headers: { 'Content-Type': 'application/problem+json', 'Cache-Control': 'no-store', ...problem.headers },
  });
}
