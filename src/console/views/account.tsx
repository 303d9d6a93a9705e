import type { AccountWithSecrets } from '../../accounts/accounts';
import { secretState } from '../../accounts/secrets';
import type { AuditEventRow, ClientKeyRow } from '../../db/schema';
import type { AccountFormValues, FormErrors } from '../account-form';
import { AccountFields } from './account-fields';
import { AuditTable } from './audit';
import { Layout, type Viewer } from './layout';
import { Badge, Confirmed, ErrorBox, List, Notice, PostForm, When } from './parts';
import { secretBadge } from './secret-badge';

export interface AccountPageProps {
  viewer: Viewer;
  data: AccountWithSecrets;
  keys: ClientKeyRow[];
  events: AuditEventRow[];
  values: AccountFormValues;
  errors: FormErrors;
  now: Date;
  expiringSoonDays: number;
  defaultRateLimit: number;
  notice?: string;
  error?: string;
}

export const AccountPage = (props: AccountPageProps) => {
  const { account, secrets } = props.data;
  const { viewer } = props;
  const base = `/console/accounts/${account.id}`;
  const changeable = account.status !== 'revoked';
  const canUpdate = viewer.can.update && changeable;
  return (
    <Layout title={account.name} viewer={viewer} section="accounts">
      <p>
        <a href="/console/accounts">← Service accounts</a>
      </p>
      <h1>
        {account.name} <Badge kind={account.status} />
      </h1>
      <Notice text={props.notice} />
      <ErrorBox text={props.error} />
      <div class="card">
        <dl class="facts">
          <dt>Client ID</dt>
          <dd>
            <code id="client-id">{account.clientId}</code>{' '}
            <button type="button" class="small secondary" data-copy="#client-id" hidden>
              Copy
            </button>
          </dd>
          <dt>Organization</dt>
          <dd>
            <code>{account.orgId}</code>
          </dd>
          <dt>Scopes</dt>
          <dd>
            <List items={account.scopes} />
          </dd>
          <dt>Roles</dt>
          <dd>
            <List items={account.roles} />
          </dd>
          <dt>Audiences</dt>
          <dd>
            <List items={account.audiences} empty="the default audience" />
          </dd>
          <dt>Authentication</dt>
          <dd>
            <List items={account.tokenEndpointAuthMethods} />
            {account.requireDpop ? ' (DPoP required)' : ''}
          </dd>
          <dt>Created</dt>
          <dd>
            <When at={account.createdAt} />
          </dd>
          <dt>Last used</dt>
          <dd>
            <When at={account.lastUsedAt} /> {account.lastUsedIp ? <span class="muted">from {account.lastUsedIp}</span> : null}
          </dd>
        </dl>
        {canUpdate ? (
          <div class="actions" style="margin-top: .8rem">
            <PostForm action={`${base}/status`} csrf={viewer.csrf}>
              <input type="hidden" name="status" value={account.status === 'active' ? 'disabled' : 'active'} />
              <button type="submit" class="secondary">
                {account.status === 'active' ? 'Disable account' : 'Enable account'}
              </button>
            </PostForm>
            <Confirmed
              id="revoke-account"
              label="Revoke account"
              confirmPage={`${base}/revoke`}
              action={`${base}/revoke`}
              cancel={base}
              csrf={viewer.csrf}
              question={`Revoke service account ${account.name}?`}
              consequence="It will never get a token again and can no longer be changed. This cannot be undone."
              confirmLabel="Revoke account"
            />
          </div>
        ) : null}
      </div>

      <h2>Details</h2>
      {canUpdate ? (
        <PostForm action={base} csrf={viewer.csrf} class="card">
          <AccountFields values={props.values} errors={props.errors} defaultRateLimit={props.defaultRateLimit} />
          <button type="submit">Update</button>
        </PostForm>
      ) : (
        <div class="card">
          <AccountFields values={props.values} errors={{}} defaultRateLimit={props.defaultRateLimit} readonly />
        </div>
      )}

      <h2>Secrets</h2>
      {secrets.length === 0 ? (
        <p class="card muted">No secrets.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Prefix</th>
              <th>Description</th>
              <th>Created</th>
              <th>Last used</th>
              <th>Expires</th>
              <th>Status</th>
              {canUpdate ? <th>Actions</th> : null}
            </tr>
          </thead>
          <tbody>
            {secrets.map((s) => {
              const state = secretState(s, props.now);
              return (
                <tr data-secret={s.prefix}>
                  <td>
                    <code>{s.prefix}</code>
                  </td>
                  <td>{s.description}</td>
                  <td>
                    <When at={s.createdAt} />
                  </td>
                  <td>
                    <When at={s.lastUsedAt} />
                  </td>
                  <td>
                    <When at={s.expiresAt} />
                  </td>
                  <td>{secretBadge(s, props.now, props.expiringSoonDays)}</td>
                  {canUpdate ? (
                    <td>
                      {state === 'revoked' ? null : (
                        <div class="actions">
                          {state === 'expired' ? null : (
                            <PostForm action={`${base}/secrets/${s.id}/status`} csrf={viewer.csrf}>
                              <input type="hidden" name="status" value={s.status === 'active' ? 'disabled' : 'active'} />
                              <button type="submit" class="small secondary">
                                {s.status === 'active' ? 'Disable' : 'Enable'}
                              </button>
                            </PostForm>
                          )}
                          <Confirmed
                            id={`revoke-${s.id}`}
                            label="Revoke"
                            small
                            confirmPage={`${base}/secrets/${s.id}/revoke`}
                            action={`${base}/secrets/${s.id}/revoke`}
                            cancel={base}
                            csrf={viewer.csrf}
                            question={`Revoke secret ${s.prefix}… of ${account.name}?`}
                            consequence="Clients using it are refused from the next request on. This cannot be undone."
                            confirmLabel="Revoke secret"
                          />
                        </div>
                      )}
                    </td>
                  ) : null}
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {canUpdate ? (
        <PostForm action={`${base}/secrets`} csrf={viewer.csrf} class="toolbar" id="add-secret">
          <div>
            <label for="secret-description">New secret: description</label>
            <input type="text" id="secret-description" name="description" />
          </div>
          <div>
            <label for="secret-expires">Expires on (UTC, optional)</label>
            <input type="date" id="secret-expires" name="expires_on" />
          </div>
          <button type="submit">Add secret</button>
        </PostForm>
      ) : null}

      {props.keys.length > 0 ? (
        <>
          <h2>Client keys (private_key_jwt)</h2>
          <table>
            <thead>
              <tr>
                <th>Key ID</th>
                <th>Algorithm</th>
                <th>Description</th>
                <th>Created</th>
                <th>Status</th>
              </tr>
            </thead>
            <tbody>
              {props.keys.map((k) => (
                <tr>
                  <td>
                    <code>{k.kid}</code>
                  </td>
                  <td>{k.alg}</td>
                  <td>{k.description}</td>
                  <td>
                    <When at={k.createdAt} />
                  </td>
                  <td>
                    <Badge kind={k.status} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      ) : null}

      {account.permissions.length > 0 ? (
        <>
          <h2>Permissions</h2>
          <table>
            <thead>
              <tr>
                <th>Resource type</th>
                <th>Resource</th>
                <th>Action</th>
                <th>Limited to</th>
              </tr>
            </thead>
            <tbody>
              {account.permissions.map((p) => (
                <tr>
                  <td>
                    <code>{p.resource_type}</code>
                  </td>
                  <td>
                    <code>{p.resource_key}</code>
                  </td>
                  <td>
                    <code>{p.action}</code>
                  </td>
                  <td>
                    {p.limiter ? (
                      p.limiter.map((alternative) => (
                        <div>
                          <code>{Object.entries(alternative).map(([k, v]) => `${k}=${v}`).join(', ')}</code>
                        </div>
                      ))
                    ) : (
                      <span class="muted">everything</span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <p class="muted">Managed through the admin API (/admin/v1/service-accounts/{account.id}/permissions).</p>
        </>
      ) : null}

      <h2>Audit events</h2>
      <AuditTable events={props.events} showAccount={false} />
      <p>
        <a href={`/console/audit?account=${account.id}`}>All events of this account</a>
      </p>

      {viewer.can.delete ? (
        <section class="danger-zone">
          <h2>Delete service account</h2>
          <p>Deletes the account with its secrets and keys. Its audit events stay.</p>
          <Confirmed
            id="delete-account"
            label="Delete service account"
            confirmPage={`${base}/delete`}
            action={`${base}/delete`}
            cancel={base}
            csrf={viewer.csrf}
            question={`Delete service account ${account.name}?`}
            consequence="The account, its secrets and its keys are removed for good. This cannot be undone."
            confirmLabel="Delete service account"
          />
        </section>
      ) : null}
    </Layout>
  );
};
