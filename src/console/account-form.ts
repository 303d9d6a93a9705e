import type { z } from 'zod';
import type { AccountWithSecrets } from '../accounts/accounts';
import type { AccountSchemas } from '../admin/schemas';
import { fromZod } from '../admin/problems';
import type { FieldProblem } from '../accounts/errors';

/**
 * The console's account form: text fields as a person types them, turned into the admin API's JSON body and
 * validated by the same schemas, so the console accepts exactly what the API accepts.
 */
export const ACCOUNT_FIELDS = [
  'name',
  'description',
  'scopes',
  'audiences',
  'rate_limit_per_minute',
  'token_ttl_seconds',
  'allowed_ips',
  'roles',
  'org_id',
] as const;

export type AccountFormValues = Record<(typeof ACCOUNT_FIELDS)[number], string>;

/** Field name -> what is wrong with it, as the API words it (`allowed_ips.1` is reported under `allowed_ips`). */
export type FormErrors = Partial<Record<string, string[]>>;

export const emptyAccountForm = (): AccountFormValues =>
  Object.fromEntries(ACCOUNT_FIELDS.map((f) => [f, ''])) as AccountFormValues;

export function accountFormOf({ account }: AccountWithSecrets): AccountFormValues {
  return {
    name: account.name,
    description: account.description,
    scopes: account.scopes.join(' '),
    audiences: account.audiences.join(' '),
    rate_limit_per_minute: account.rateLimitPerMinute === null ? '' : String(account.rateLimitPerMinute),
    token_ttl_seconds: account.tokenTtlSeconds === null ? '' : String(account.tokenTtlSeconds),
    allowed_ips: account.allowedIps.join('\n'),
    roles: account.roles.join(' '),
    org_id: account.orgId,
  };
}

export function accountFormFrom(form: Record<string, unknown>): AccountFormValues {
  const values = emptyAccountForm();
  for (const field of ACCOUNT_FIELDS) {
    const value = form[field];
    values[field] = typeof value === 'string' ? value : '';
  }
  return values;
}

/** Items separated by whitespace, commas or new lines. */
const items = (text: string) => text.split(/[\s,]+/).filter((item) => item !== '');

/** Empty: the service's default (null); digits: a number; anything else is passed on for the schema to refuse. */
const optionalNumber = (text: string): number | string | null => {
  const trimmed = text.trim();
  if (trimmed === '') return null;
  return /^-?\d+$/.test(trimmed) ? Number(trimmed) : trimmed;
};

function bodyOf(values: AccountFormValues, kind: 'create' | 'update') {
  const org = values.org_id.trim();
  return {
    // The organization is chosen at creation only (empty: the admin's own).
    ...(kind === 'create' && org !== '' ? { org_id: org } : {}),
    roles: items(values.roles),
    name: values.name,
    description: values.description,
    scopes: items(values.scopes),
    audiences: items(values.audiences),
    rate_limit_per_minute: optionalNumber(values.rate_limit_per_minute),
    token_ttl_seconds: optionalNumber(values.token_ttl_seconds),
    allowed_ips: items(values.allowed_ips),
  };
}

export type Parsed<T> = { ok: true; body: T } | { ok: false; errors: FormErrors };

export function parseAccountForm<K extends 'create' | 'update'>(
  schemas: AccountSchemas,
  kind: K,
  values: AccountFormValues,
): Parsed<z.infer<AccountSchemas[K]>> {
  const result = schemas[kind].safeParse(bodyOf(values, kind));
  if (result.success) return { ok: true, body: result.data as z.infer<AccountSchemas[K]> };
  return { ok: false, errors: formErrorsOfZod(result.error) };
}

/** zod's issues as the admin API names them (fromZod), by form field. */
export function formErrorsOfZod(error: z.ZodError): FormErrors {
  return formErrorsOf((fromZod(error).extra.errors as FieldProblem[] | undefined) ?? []);
}

export function formErrorsOf(problems: FieldProblem[]): FormErrors {
  const errors: FormErrors = {};
  for (const { field, message } of problems) {
    const [name, index] = field.split('.');
    const text = index !== undefined ? `item ${Number(index) + 1}: ${message}` : message;
    (errors[name ?? field] ??= []).push(text);
  }
  return errors;
}
