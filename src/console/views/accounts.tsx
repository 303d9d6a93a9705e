import type { AccountWithSecrets } from '../../accounts/accounts';
import type { AccountFormValues, FormErrors } from '../account-form';
import { secretBadge } from './secret-badge';
import { AccountFields } from './account-fields';
import { Layout, type Viewer } from './layout';
import { Badge, ErrorBox, List, Notice, PostForm, queryOf, When } from './parts';

export interface AccountFilters {
  q: string;
  status: string;
  expiration: string;
}

export interface ListPageProps {
  viewer: Viewer;
  items: AccountWithSecrets[];
  nextCursor: string | null;
  filters: AccountFilters;
  isFirstPage: boolean;
  now: Date;
  expiringSoonDays: number;
  defaultRateLimit: number;
  notice?: string;
  error?: string;
}

const Select = (props: { name: string; label: string; value: string; options: [string, string][] }) => (
  <div>
    <label for={`filter-${props.name}`}>{props.label}</label>
    <select id={`filter-${props.name}`} name={props.name}>
      {props.options.map(([value, label]) => (
        <option value={value} selected={props.value === value}>
          {label}
        </option>
      ))}
    </select>
  </div>
);

export const AccountListPage = (props: ListPageProps) => (
  <Layout title="Service accounts" viewer={props.viewer} section="accounts">
    <h1>Service accounts</h1>
    <Notice text={props.notice} />
    <ErrorBox text={props.error} />
    <form method="get" action="/console/accounts" class="toolbar" role="search">
      <div>
        <label for="filter-q">Search</label>
        <input type="search" id="filter-q" name="q" value={props.filters.q} placeholder="Name or description" />
      </div>
      <Select
        name="status"
        label="Status"
        value={props.filters.status}
        options={[['', 'Any'], ['active', 'Active'], ['disabled', 'Disabled'], ['revoked', 'Revoked']]}
      />
      <Select
        name="expiration"
        label="Secrets"
        value={props.filters.expiration}
        options={[['', 'Any'], ['valid', 'Valid'], ['expiring_soon', `Expiring within ${props.expiringSoonDays} days`], ['expired', 'Expired']]}
      />
      <button type="submit" class="secondary">
        Filter
      </button>
      <span class="spacer" />
      {props.viewer.can.create ? (
        <a href="/console/accounts/new" class="button">
          Create service account
        </a>
      ) : null}
    </form>
    {props.items.length === 0 ? (
      <p class="card muted">No service account matches.</p>
    ) : (
      <table>
        <thead>
          <tr>
            <th>Name</th>
            <th>Client ID</th>
            <th>Secrets</th>
            <th>Scopes and roles</th>
            <th>Limit / min</th>
            <th>Status</th>
            <th>Last used</th>
          </tr>
        </thead>
        <tbody>
          {props.items.map(({ account, secrets }) => (
            <tr data-account={account.name}>
              <td>
                <a href={`/console/accounts/${account.id}`}>{account.name}</a>
                {account.description ? <div class="muted">{account.description}</div> : null}
              </td>
              <td>
                <code>{account.clientId}</code>
              </td>
              <td>
                {secrets.length === 0 ? (
                  <span class="muted">none</span>
                ) : (
                  secrets.map((s) => (
                    <div>
                      <code>{s.prefix}</code> {secretBadge(s, props.now, props.expiringSoonDays)}
                    </div>
                  ))
                )}
              </td>
              <td>
                <List items={account.scopes} />
                {account.roles.length > 0 ? (
                  <div>
                    roles: <List items={account.roles} />
                  </div>
                ) : null}
              </td>
              <td>
                {account.rateLimitPerMinute ?? <span class="muted">{props.defaultRateLimit} (default)</span>}
              </td>
              <td>
                <Badge kind={account.status} />
              </td>
              <td>
                <When at={account.lastUsedAt} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    )}
    <nav class="pager" aria-label="Pages">
      {props.isFirstPage ? null : <a href={`/console/accounts${queryOf(props.filters)}`}>First page</a>}
      {props.nextCursor ? <a href={`/console/accounts${queryOf(props.filters, props.nextCursor)}`}>Next page</a> : null}
    </nav>
  </Layout>
);

export const NewAccountPage = (props: { viewer: Viewer; values: AccountFormValues; errors: FormErrors; defaultRateLimit: number; error?: string }) => (
  <Layout title="Create service account" viewer={props.viewer} section="accounts">
    <h1>Create service account</h1>
    <ErrorBox text={props.error} />
    <PostForm action="/console/accounts" csrf={props.viewer.csrf} class="card">
      <AccountFields values={props.values} errors={props.errors} defaultRateLimit={props.defaultRateLimit} chooseOrg={props.viewer.platformWide} />
      <div class="actions">
        <button type="submit">Create</button>
        <a href="/console/accounts" class="button secondary">
          Cancel
        </a>
      </div>
    </PostForm>
  </Layout>
);

/** A value with a copy button (shown by the script). */
const CopyBox = (props: { id: string; label: string; value: string; secondary?: boolean }) => (
  <>
    <label for={props.id}>{props.label}</label>
    <div class="secret-box">
      <code id={props.id}>{props.value}</code>
      <button type="button" class={props.secondary ? 'small secondary' : 'small'} data-copy={`#${props.id}`} hidden>
        Copy
      </button>
    </div>
  </>
);

/**
 * The one page that shows a plaintext secret: the answer to the POST that created it (never stored, never
 * linked, Cache-Control: no-store).
 */
export const SecretShownPage = (props: {
  viewer: Viewer;
  title: string;
  accountId: string;
  accountName: string;
  clientId: string;
  secret: string;
  prefix: string;
  expiresAt: Date;
}) => (
  <Layout title={props.title} viewer={props.viewer} section="accounts">
    <h1>{props.title}</h1>
    <dialog open id="secret-dialog" aria-labelledby="secret-title">
      <h2 id="secret-title">Copy the secret now</h2>
      <p class="warning" role="alert">
        This secret will not be shown again. Store it in your secret manager before you close this page.
      </p>
      <label>Service account</label>
      <p>{props.accountName}</p>
      <CopyBox id="new-client-id" label="Client ID" value={props.clientId} secondary />
      <CopyBox id="new-secret" label="Client secret" value={props.secret} />
      <p class="muted">
        Prefix <code>{props.prefix}</code>, expires <When at={props.expiresAt} />.
      </p>
      <a href={`/console/accounts/${props.accountId}`} class="button">
        I have stored it: go to the account
      </a>
    </dialog>
  </Layout>
);
