import type { KeyRecord } from '../../tokens/key-file';
import type { KeyStatus } from '../../tokens/key-schedule';
import { Layout, type Viewer } from './layout';
import { Badge, Notice, PostForm, When } from './parts';

const at = (ms: number | undefined) => (ms === undefined ? null : new Date(ms));

export const KeysPage = (props: {
  viewer: Viewer;
  statuses: KeyStatus<KeyRecord>[];
  signingKid: string | undefined;
  canRotate: boolean;
  alg: string;
  propagationSeconds: number;
  notice?: string;
}) => (
  <Layout title="Signing keys" viewer={props.viewer} section="keys">
    <h1>Signing keys</h1>
    <Notice text={props.notice} />
    <p class="muted">
      The keys that sign access tokens, as this instance sees them. Published keys are in the JWKS; a new key
      signs once resource APIs have had time to fetch it ({props.propagationSeconds} s).
    </p>
    <table>
      <thead>
        <tr>
          <th>Key ID</th>
          <th>Algorithm</th>
          <th>State</th>
          <th>Created</th>
          <th>Signs from</th>
          <th>Stops signing</th>
          <th>Published until</th>
        </tr>
      </thead>
      <tbody>
        {props.statuses.map((s) => (
          <tr data-kid={s.key.kid}>
            <td>
              <code>{s.key.kid}</code> {s.key.kid === props.signingKid ? <strong>(signing now)</strong> : null}
            </td>
            <td>{s.key.alg}</td>
            <td>
              <Badge kind={s.state} />
            </td>
            <td>
              <When at={at(s.key.createdAt)} />
            </td>
            <td>
              <When at={at(s.key.activatesAt)} />
            </td>
            <td>
              <When at={at(s.endsAt)} never="—" />
            </td>
            <td>{s.published ? <When at={at(s.publishedUntil)} never="while in use" /> : <span class="muted">not published</span>}</td>
          </tr>
        ))}
      </tbody>
    </table>
    {props.canRotate ? (
      <PostForm action="/console/keys/rotate" csrf={props.viewer.csrf} class="toolbar">
        <p style="margin: .8rem 0 0">
          Rotating adds a new {props.alg} key: published now, signing in {props.propagationSeconds} s; the current key then
          retires and stays published until its tokens have expired.
        </p>
        <button type="submit">Rotate signing key</button>
      </PostForm>
    ) : (
      <p class="muted">Rotating keys needs every service-account permission (read, create, update and delete).</p>
    )}
  </Layout>
);
