import type { Child } from 'hono/jsx';

/** Small pieces shared by the console's pages. */

export const CSRF_FIELD = '_csrf';

/** A POST form with the session's CSRF token. */
export const PostForm = (props: { action: string; csrf: string; class?: string; id?: string; children?: Child }) => (
  <form method="post" action={props.action} class={props.class} id={props.id}>
    <input type="hidden" name={CSRF_FIELD} value={props.csrf} />
    {props.children}
  </form>
);

/** A list page's query string: its filters that are set, and the cursor of the page asked for. */
export function queryOf(filters: object, cursor?: string): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(filters)) if (value) params.set(name, String(value));
  if (cursor) params.set('cursor', cursor);
  const text = params.toString();
  return text ? `?${text}` : '';
}

export type BadgeKind = 'active' | 'disabled' | 'revoked' | 'expired' | 'expiring' | 'success' | 'failure' | 'next' | 'retired';

export const Badge = (props: { kind: BadgeKind; label?: string }) => (
  <span class={`badge ${props.kind}`}>{props.label ?? props.kind}</span>
);

/** A timestamp as UTC text, with the exact instant in the title; `never` for null. */
export const When = (props: { at: Date | null; never?: string }) =>
  props.at ? (
    <time datetime={props.at.toISOString()} title={props.at.toISOString()}>
      {props.at.toISOString().slice(0, 19).replace('T', ' ')} UTC
    </time>
  ) : (
    <span class="muted">{props.never ?? 'never'}</span>
  );

export const List = (props: { items: readonly string[]; empty?: string }) =>
  props.items.length === 0 ? (
    <span class="muted">{props.empty ?? 'none'}</span>
  ) : (
    <span>
      {props.items.map((item, i) => (
        <>
          {i > 0 ? ', ' : ''}
          <code>{item}</code>
        </>
      ))}
    </span>
  );

export const Notice = (props: { text: string | undefined }) => (props.text ? <p class="notice" role="status">{props.text}</p> : null);

export const ErrorBox = (props: { text: string | undefined }) => (props.text ? <p class="error" role="alert">{props.text}</p> : null);

/**
 * A destructive action confirmed first: the link opens a dialog holding the form (with the script), or a
 * confirmation page (without it).
 */
export const Confirmed = (props: {
  id: string;
  label: string;
  confirmPage: string;
  action: string;
  csrf: string;
  question: string;
  consequence: string;
  confirmLabel: string;
  /** Where Cancel leads on the confirmation page: the page the action started from. */
  cancel: string;
  small?: boolean;
}) => (
  <>
    <a href={props.confirmPage} class={`button danger${props.small ? ' small' : ''}`} data-dialog={props.id}>
      {props.label}
    </a>
    <dialog id={props.id} aria-labelledby={`${props.id}-title`}>
      <ConfirmBody {...props} />
    </dialog>
  </>
);

export const ConfirmBody = (props: {
  id?: string;
  action: string;
  csrf: string;
  question: string;
  consequence: string;
  confirmLabel: string;
  cancel: string;
}) => (
  <>
    <h2 id={props.id ? `${props.id}-title` : undefined}>{props.question}</h2>
    <p>{props.consequence}</p>
    <PostForm action={props.action} csrf={props.csrf} class="actions">
      <button type="submit" class="danger">
        {props.confirmLabel}
      </button>
      <a href={props.cancel} class="button secondary" data-close>
        Cancel
      </a>
    </PostForm>
  </>
);
