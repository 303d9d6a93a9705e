import { createHash } from 'node:crypto';
import { Hono } from 'hono';

/**
 * The console's only assets: one stylesheet and one small script, served from our origin (no CDN, no
 * external fonts). Kept in the code, so the esbuild bundle (dist/) carries them without a copy step. Every
 * page works without the script; it adds copy buttons and confirmation dialogs.
 */

const CSS = `
:root { color-scheme: light; --fg: #1d2330; --muted: #5b6475; --line: #d9dee7; --bg: #f6f7f9; --card: #fff;
  --accent: #2556c4; --danger: #b42318; --ok: #146c2e; --warn: #8a5a00; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: var(--bg); }
a { color: var(--accent); }
header.top { display: flex; align-items: center; gap: 1.5rem; padding: .6rem 1.5rem; background: #111827; color: #fff; }
header.top a { color: #e5e7eb; text-decoration: none; }
header.top a[aria-current="page"] { color: #fff; font-weight: 600; border-bottom: 2px solid #93b4ff; }
header.top .brand { font-weight: 700; color: #fff; margin-right: .5rem; }
header.top .who { margin-left: auto; color: #cbd5e1; font-size: .9rem; display: flex; gap: .75rem; align-items: center; }
header.top form { margin: 0; }
main { max-width: 1180px; margin: 1.5rem auto; padding: 0 1.5rem; }
h1 { font-size: 1.45rem; margin: 0 0 1rem; }
h2 { font-size: 1.1rem; margin: 1.75rem 0 .6rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 1rem 1.25rem; }
table { width: 100%; border-collapse: collapse; background: var(--card); border: 1px solid var(--line); border-radius: 8px; overflow: hidden; }
th, td { text-align: left; padding: .5rem .65rem; border-bottom: 1px solid var(--line); vertical-align: top; font-size: .93rem; }
th { background: #eef1f6; font-weight: 600; color: #374151; }
tr:last-child td { border-bottom: 0; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .88em; word-break: break-all; }
.badge { display: inline-block; padding: .05rem .5rem; border-radius: 999px; font-size: .8rem; font-weight: 600; border: 1px solid; }
.badge.active { color: var(--ok); border-color: #9fd8b0; background: #ecf8f0; }
.badge.disabled { color: #4b5563; border-color: #cdd3dc; background: #f1f3f6; }
.badge.revoked, .badge.failure { color: #fff; border-color: var(--danger); background: var(--danger); }
.badge.expired { color: var(--danger); border-color: #f0b4ae; background: #fdf0ef; }
.badge.expiring { color: var(--warn); border-color: #f0d08a; background: #fff7e0; }
.badge.next { color: var(--accent); border-color: #a9c0f0; background: #eef3fd; }
.badge.retired { color: #4b5563; border-color: #cdd3dc; background: #f1f3f6; }
.badge.success { color: var(--ok); border-color: #9fd8b0; background: #ecf8f0; }
.muted { color: var(--muted); }
.toolbar { display: flex; gap: .75rem; align-items: end; flex-wrap: wrap; margin-bottom: 1rem; }
.toolbar .spacer { flex: 1; }
label { display: block; font-weight: 600; font-size: .88rem; margin-bottom: .2rem; }
.field { margin-bottom: .9rem; }
.field .hint { font-weight: 400; color: var(--muted); font-size: .83rem; }
input[type=text], input[type=number], input[type=password], input[type=search], input[type=date], input[type=datetime-local], select, textarea {
  font: inherit; padding: .4rem .55rem; border: 1px solid #b8c0cc; border-radius: 6px; background: #fff; min-width: 12rem; }
textarea { width: 100%; min-height: 4.5rem; }
.form-grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(280px, 1fr)); gap: 0 1.5rem; }
.form-grid input[type=text], .form-grid input[type=number], .form-grid textarea { width: 100%; }
button, .button { font: inherit; font-weight: 600; padding: .42rem .9rem; border-radius: 6px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; text-decoration: none; display: inline-block; }
button.secondary, .button.secondary { background: #fff; color: var(--accent); }
button.danger, .button.danger { background: var(--danger); border-color: var(--danger); color: #fff; }
button.small, .button.small { padding: .15rem .55rem; font-size: .85rem; }
header.top button { background: transparent; border-color: #6b7280; color: #e5e7eb; padding: .2rem .6rem; }
.actions { display: flex; gap: .4rem; flex-wrap: wrap; align-items: center; }
.actions form { margin: 0; }
.notice { padding: .7rem 1rem; border-radius: 8px; margin-bottom: 1rem; border: 1px solid #9fd8b0; background: #ecf8f0; }
.error { padding: .7rem 1rem; border-radius: 8px; margin-bottom: 1rem; border: 1px solid #f0b4ae; background: #fdf0ef; color: #7a1a12; }
.field-error { color: var(--danger); font-size: .85rem; margin-top: .2rem; }
.danger-zone { border: 1px solid #f0b4ae; border-radius: 8px; padding: 1rem 1.25rem; margin-top: 2rem; background: #fffafa; }
dialog { border: 1px solid var(--line); border-radius: 10px; padding: 1.25rem 1.5rem; max-width: 640px; box-shadow: 0 10px 40px rgba(0,0,0,.25); }
dialog h2 { margin-top: 0; }
#add-secret { margin-top: .8rem; }
dialog::backdrop { background: rgba(17, 24, 39, .45); }
.secret-box { display: flex; gap: .5rem; align-items: center; background: #f3f4f6; border: 1px solid var(--line); border-radius: 6px; padding: .5rem .7rem; margin: .3rem 0 .9rem; }
.secret-box code { flex: 1; }
.warning { color: #7a4a00; background: #fff7e0; border: 1px solid #f0d08a; border-radius: 6px; padding: .5rem .75rem; }
.pager { display: flex; gap: .75rem; margin-top: .8rem; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .35rem 1.25rem; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
.signin { max-width: 420px; margin: 4rem auto; }
.signin input { width: 100%; }
details.json summary { cursor: pointer; color: var(--muted); }
details.json pre { white-space: pre-wrap; font-size: .8rem; margin: .3rem 0 0; }
`;

const JS = `
'use strict';
// Progressive enhancement only: every action also works without this script.
document.querySelectorAll('[data-copy]').forEach(function (button) { button.hidden = false; });
document.addEventListener('click', function (event) {
  var target = event.target instanceof Element ? event.target : null;
  if (!target) return;
  var copy = target.closest('[data-copy]');
  if (copy) {
    event.preventDefault();
    var source = document.querySelector(copy.getAttribute('data-copy'));
    if (!source) return;
    var text = source.textContent || '';
    var done = function () { copy.textContent = 'Copied'; setTimeout(function () { copy.textContent = 'Copy'; }, 2000); };
    var fallback = function () {
      var range = document.createRange(); range.selectNodeContents(source);
      var selection = window.getSelection(); selection.removeAllRanges(); selection.addRange(range);
      try { document.execCommand('copy'); done(); } catch (e) { /* the text stays selected for the user to copy */ }
    };
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, fallback);
    else fallback();
    return;
  }
  var opener = target.closest('[data-dialog]');
  if (opener) {
    var dialog = document.getElementById(opener.getAttribute('data-dialog'));
    if (dialog && typeof dialog.showModal === 'function') { event.preventDefault(); dialog.showModal(); }
    return;
  }
  var closer = target.closest('[data-close]');
  if (closer) {
    var open = closer.closest('dialog');
    if (open) { event.preventDefault(); open.close(); }
  }
});
`;

const asset = (body: string, type: string) => ({
  body,
  type,
  etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
});

const ASSETS: Record<string, ReturnType<typeof asset>> = {
  'console.css': asset(CSS, 'text/css; charset=utf-8'),
  'console.js': asset(JS, 'text/javascript; charset=utf-8'),
};

/** The assets' URLs, versioned by content so a page never meets a stale asset. */
export const assetUrl = (name: 'console.css' | 'console.js') =>
  `/console/assets/${name}?v=${ASSETS[name]!.etag.slice(1, 9)}`;

export function assetRoutes(): Hono {
  const app = new Hono();
  app.get('/assets/:name', (c) => {
    const found = ASSETS[c.req.param('name')];
    if (!found) return c.text('not found', 404);
    const headers = { 'Content-Type': found.type, ETag: found.etag, 'Cache-Control': 'public, max-age=3600' };
    if (c.req.header('if-none-match') === found.etag) return c.body(null, 304, headers);
    return c.body(found.body, 200, headers);
  });
  return app;
}
