import { Layout, type Viewer } from './layout';
import { ConfirmBody, ErrorBox } from './parts';

/** A confirmation step as a page of its own (the dialog's fallback without the script). */
export const ConfirmPage = (props: {
  viewer: Viewer;
  action: string;
  question: string;
  consequence: string;
  confirmLabel: string;
  cancel: string;
}) => (
  <Layout title={props.question} viewer={props.viewer} section="accounts">
    <div class="card">
      <ConfirmBody {...props} csrf={props.viewer.csrf} />
    </div>
  </Layout>
);

export const ErrorPage = (props: { viewer?: Viewer; status: number; title: string; detail: string }) => (
  <Layout title={props.title} viewer={props.viewer}>
    <h1>{props.title}</h1>
    <ErrorBox text={props.detail} />
    <p>
      <a href="/console/accounts">Back to the service accounts</a>
    </p>
  </Layout>
);
