import { Layout } from './layout';
import { CSRF_FIELD, ErrorBox, Notice } from './parts';

export const SignInPage = (props: { nonce: string; next: string; clientId?: string; error?: string; notice?: string }) => (
  <Layout title="Sign in">
    <div class="signin card">
      <h1>Sign in</h1>
      <p class="muted">With the client ID and a secret of a service account that holds admin permissions.</p>
      <Notice text={props.notice} />
      <ErrorBox text={props.error} />
      <form method="post" action="/console/sign-in">
        <input type="hidden" name={CSRF_FIELD} value={props.nonce} />
        <input type="hidden" name="next" value={props.next} />
        <div class="field">
          <label for="client_id">Client ID</label>
          <input type="text" id="client_id" name="client_id" value={props.clientId ?? ''} autocomplete="username" required autofocus />
        </div>
        <div class="field">
          <label for="client_secret">Client secret</label>
          <input type="password" id="client_secret" name="client_secret" autocomplete="current-password" required />
        </div>
        <button type="submit">Sign in</button>
      </form>
    </div>
  </Layout>
);
