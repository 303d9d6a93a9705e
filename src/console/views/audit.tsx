import type { AuditEventRow } from '../../db/schema';
import { Layout, type Viewer } from './layout';
import { Badge, ErrorBox, queryOf, When } from './parts';

export const AuditTable = (props: { events: AuditEventRow[]; showAccount: boolean }) =>
  props.events.length === 0 ? (
    <p class="card muted">No events.</p>
  ) : (
    <table>
      <thead>
        <tr>
          <th>When</th>
          <th>Action</th>
          <th>Outcome</th>
          {props.showAccount ? <th>Account</th> : null}
          <th>Actor</th>
          <th>Source</th>
          <th>Details</th>
        </tr>
      </thead>
      <tbody>
        {props.events.map((e) => (
          <tr data-action={e.action}>
            <td>
              <When at={e.occurredAt} />
            </td>
            <td>
              <code>{e.action}</code>
            </td>
            <td>
              <Badge kind={e.outcome === 'success' ? 'success' : 'failure'} label={e.reason ? `${e.outcome}: ${e.reason}` : e.outcome} />
            </td>
            {props.showAccount ? (
              <td>
                {e.accountId ? <a href={`/console/accounts/${e.accountId}`}>{e.clientId ?? e.accountId}</a> : <code>{e.clientId ?? ''}</code>}
              </td>
            ) : null}
            <td>
              <code>{e.actor ?? ''}</code>
            </td>
            <td>{e.sourceIp ?? ''}</td>
            <td>
              {Object.keys(e.details ?? {}).length > 0 ? (
                <details class="json">
                  <summary>details</summary>
                  <pre>{JSON.stringify(e.details, null, 2)}</pre>
                </details>
              ) : null}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );

export interface AuditFilters {
  account: string;
  action: string;
  outcome: string;
  from: string;
  to: string;
}

export const AuditPage = (props: {
  viewer: Viewer;
  events: AuditEventRow[];
  filters: AuditFilters;
  nextCursor: string | null;
  isFirstPage: boolean;
  error?: string;
}) => (
  <Layout title="Audit log" viewer={props.viewer} section="audit">
    <h1>Audit log</h1>
    <ErrorBox text={props.error} />
    <form method="get" action="/console/audit" class="toolbar" role="search">
      <div>
        <label for="filter-account">Account</label>
        <input type="text" id="filter-account" name="account" value={props.filters.account} placeholder="ID or client ID" />
      </div>
      <div>
        <label for="filter-action">Action</label>
        <input type="text" id="filter-action" name="action" value={props.filters.action} placeholder="e.g. token.denied" list="known-actions" />
        <datalist id="known-actions">
          {KNOWN_ACTIONS.map((a) => (
            <option value={a} />
          ))}
        </datalist>
      </div>
      <div>
        <label for="filter-outcome">Outcome</label>
        <select id="filter-outcome" name="outcome">
          {[['', 'Any'], ['success', 'Success'], ['failure', 'Failure']].map(([v, l]) => (
            <option value={v} selected={props.filters.outcome === v}>
              {l}
            </option>
          ))}
        </select>
      </div>
      <div>
        <label for="filter-from">From (UTC)</label>
        <input type="datetime-local" id="filter-from" name="from" value={props.filters.from} />
      </div>
      <div>
        <label for="filter-to">To (UTC)</label>
        <input type="datetime-local" id="filter-to" name="to" value={props.filters.to} />
      </div>
      <button type="submit" class="secondary">
        Filter
      </button>
    </form>
    <p class="muted">Newest first.</p>
    <AuditTable events={props.events} showAccount />
    <nav class="pager" aria-label="Pages">
      {props.isFirstPage ? null : <a href={`/console/audit${queryOf(props.filters)}`}>Newest</a>}
      {props.nextCursor ? <a href={`/console/audit${queryOf(props.filters, props.nextCursor)}`}>Older</a> : null}
    </nav>
  </Layout>
);

const KNOWN_ACTIONS = [
  'token.issued',
  'token.denied',
  'service_account.created',
  'service_account.updated',
  'service_account.disabled',
  'service_account.enabled',
  'service_account.revoked',
  'service_account.deleted',
  'secret.created',
  'secret.disabled',
  'secret.enabled',
  'secret.revoked',
  'key.created',
  'key.enabled',
  'key.disabled',
  'key.deleted',
];
