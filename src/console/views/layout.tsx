import type { Child } from 'hono/jsx';
import { assetUrl } from '../assets';
import { PostForm } from './parts';

export type Section = 'accounts' | 'audit' | 'keys';

/** Who is signed in, as the pages need it. */
export interface Viewer {
  clientId: string;
  /** The admin's organization, and whether it administers every organization. */
  orgId: string;
  platformWide: boolean;
  csrf: string;
  can: { read: boolean; create: boolean; update: boolean; delete: boolean };
}

const SECTIONS: { id: Section; href: string; label: string }[] = [
  { id: 'accounts', href: '/console/accounts', label: 'Service accounts' },
  { id: 'audit', href: '/console/audit', label: 'Audit log' },
  { id: 'keys', href: '/console/keys', label: 'Signing keys' },
];

export const Layout = (props: { title: string; viewer?: Viewer; section?: Section; children?: Child }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta name="referrer" content="same-origin" />
      <title>{`${props.title} · Token service console`}</title>
      <link rel="stylesheet" href={assetUrl('console.css')} />
      <script src={assetUrl('console.js')} defer />
    </head>
    <body>
      <header class="top">
        <span class="brand">Token service</span>
        {props.viewer ? (
          <>
            <nav class="actions" aria-label="Console">
              {SECTIONS.map((s) => (
                <a href={s.href} aria-current={props.section === s.id ? 'page' : undefined}>
                  {s.label}
                </a>
              ))}
            </nav>
            <span class="who">
              <span>
                Signed in as <code>{props.viewer.clientId}</code>
              </span>
              <PostForm action="/console/sign-out" csrf={props.viewer.csrf}>
                <button type="submit">Sign out</button>
              </PostForm>
            </span>
          </>
        ) : null}
      </header>
      <main>{props.children}</main>
    </body>
  </html>
);
