// The web UI routes shared by the querier and the ruler: /graph, /stores, /alerts, /rules, /flags, /status and their static assets (the querier plugin's ui/ directory,
// uPlot's dist files from node_modules and the PromQL editor bundle ui/build/editor.js that `npm run build:ui` makes), read through the file capability and cached in memory.
// The editor bundle is optional: without it the graph page uses a plain textarea (and says so, once, in the log).
import { Hono } from 'hono';
import { FAVICON_SVG } from './favicon.ts';

export interface UiOptions {
  readFile(path: string): Promise<Uint8Array>;
  uiDir: string;
  uplotDir: string;
  /** Prefix written into links and asset URLs (--web.external-prefix or --web.route-prefix). */
  linkPrefix: string;
  /** Per-request prefix instead of linkPrefix (--web.prefix-header: see webPrefixFor). */
  prefixFor?: (req: Request) => string;
  /** Where the editor bundle is (default: uiDir + 'build/editor.js'). */
  editorFile?: string;
  /** Told once when the editor bundle is missing. */
  warn?: (msg: string) => void;
  /** Pages served and shown in the navigation, in order (default: the querier's). */
  pages?: string[];
  /** Extra routes that serve one of the pages (the ruler: graph → rules, for generatorURL). */
  aliases?: Record<string, string>;
  /** Where `/` redirects (default: the first page). */
  home?: string;
  /** Base of the expression links on the rules/alerts pages (default: this UI's /graph). */
  graphUrl?: string;
}

const ASSETS: Record<string, { dir: 'ui' | 'uplot' | 'editor'; file: string; type: string }> = {
  'graph.js': { dir: 'ui', file: 'graph.js', type: 'text/javascript; charset=utf-8' },
  'stores.js': { dir: 'ui', file: 'stores.js', type: 'text/javascript; charset=utf-8' },
  'rules.js': { dir: 'ui', file: 'rules.js', type: 'text/javascript; charset=utf-8' },
  'status.js': { dir: 'ui', file: 'status.js', type: 'text/javascript; charset=utf-8' },
  'style.css': { dir: 'ui', file: 'style.css', type: 'text/css; charset=utf-8' },
  'editor.js': { dir: 'editor', file: '', type: 'text/javascript; charset=utf-8' },
  'uPlot.iife.min.js': { dir: 'uplot', file: 'uPlot.iife.min.js', type: 'text/javascript; charset=utf-8' },
  'uPlot.min.css': { dir: 'uplot', file: 'uPlot.min.css', type: 'text/css; charset=utf-8' },
};

const PAGES: Record<string, { file: string; title: string }> = {
  graph: { file: 'graph.html', title: 'Graph' },
  stores: { file: 'stores.html', title: 'Stores' },
  alerts: { file: 'alerts.html', title: 'Alerts' },
  rules: { file: 'rules.html', title: 'Rules' },
  // Thanos's /flags and /status pages: tables read from /api/v1/status/{flags,runtimeinfo,buildinfo}.
  flags: { file: 'flags.html', title: 'Flags' },
  status: { file: 'status.html', title: 'Status' },
};

/**
 * Thanos's GetWebPrefix: --web.external-prefix when set, else the --web.prefix-header request
 * header's value, sanitized to a clean absolute path (scheme and host dropped, no trailing slash);
 * without either, `fallback` (our --web.route-prefix, so links work on a route prefix alone).
 */
export function webPrefixFor(externalPrefix: string, prefixHeader: string, fallback: string): (req: Request) => string {
  return (req) => {
    if (externalPrefix) return externalPrefix;
    const raw = prefixHeader ? req.headers.get(prefixHeader) : null;
    if (!raw) return fallback;
    return sanitizePrefix(raw);
  };
}

/**
 * A --web.route-prefix / --web.external-prefix value as the components take it: '' or '/' = none,
 * otherwise an absolute path without trailing slashes. Throws saying what is wrong.
 */
export function normalizeWebPrefix(p: string): string {
  if (p === '' || p === '/') return '';
  if (!p.startsWith('/')) throw new Error(`must start with "/", got ${JSON.stringify(p)}`);
  return p.replace(/\/+$/, '');
}

/**
 * The request as the routes under --web.route-prefix see it (the prefix taken off the path), or
 * undefined when its path is outside the prefix (`/prefixed` is outside `/prefix`).
 */
export function underRoutePrefix(req: Request, routePrefix: string): Request | undefined {
  if (!routePrefix) return req;
  const url = new URL(req.url);
  if (url.pathname !== routePrefix && !url.pathname.startsWith(`${routePrefix}/`)) return undefined;
  url.pathname = url.pathname.slice(routePrefix.length) || '/';
  // duplex: a streamed body (POST /-/reload, API forms) is passed on as it is, unread.
  return new Request(url, { method: req.method, headers: req.headers, body: req.body, signal: req.signal, duplex: 'half' } as RequestInit);
}

/** Thanos's SanitizePrefix: the URL's path, cleaned, without a trailing slash ('' for none or an unparsable value). */
export function sanitizePrefix(raw: string): string {
  let path: string;
  try {
    path = new URL(raw, 'http://prefix.invalid').pathname;
  } catch {
    return '';
  }
  const out: string[] = [];
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  return out.length ? '/' + out.join('/') : '';
}

function escapeAttr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function uiRoutes(opts: UiOptions): Hono {
  const cache = new Map<string, Uint8Array>();
  const load = async (path: string): Promise<Uint8Array> => {
    let b = cache.get(path);
    if (!b) {
      b = await opts.readFile(path);
      cache.set(path, b);
    }
    return b;
  };
  const editorFile = opts.editorFile ?? `${opts.uiDir}build/editor.js`;
  const pathOf = (a: { dir: 'ui' | 'uplot' | 'editor'; file: string }) => (a.dir === 'editor' ? editorFile : (a.dir === 'ui' ? opts.uiDir : opts.uplotDir) + a.file);
  // Whether the editor bundle exists, looked up once (a fresh clone before `npm run build` has none).
  let editorPresent: Promise<boolean> | undefined;
  const hasEditor = () => (editorPresent ??= load(editorFile).then(() => true, (e: Error) => {
    opts.warn?.(`PromQL editor bundle ${editorFile} unavailable (${e.message}); the graph page falls back to a plain text input. Run \`npm run build:ui\` and restart to get it.`);
    return false;
  }));
  const app = new Hono();

  const pages = opts.pages ?? ['graph', 'stores', 'alerts', 'rules', 'flags', 'status'];
  const linkPrefixOf = (req: Request) => (opts.prefixFor ? opts.prefixFor(req) : opts.linkPrefix);
  const nav = (prefix: string, active: string) => `<nav class="top">\n  <a class="brand" href="${prefix}/${pages[0]}">Thanos</a>\n${
    pages.map((p) => `  <a href="${prefix}/${p}"${p === active ? ' class="active"' : ''}>${PAGES[p]!.title}</a>\n`).join('')}</nav>`;
  app.get('/', (c) => c.redirect(`${linkPrefixOf(c.req.raw)}/${opts.home ?? pages[0]}`, 302));
  // Browsers ask for /favicon.ico on their own; the pages also link the SVG.
  const favicon = () => new Response(FAVICON_SVG, { headers: { 'Content-Type': 'image/svg+xml', 'Cache-Control': 'public, max-age=3600' } });
  app.get('/favicon.ico', favicon);
  app.get('/static/favicon.svg', favicon);
  const routes: Array<[string, string]> = [...pages.map((p): [string, string] => [p, p]), ...Object.entries(opts.aliases ?? {})];
  for (const [route, page] of routes) {
    const file = PAGES[page]!.file;
    app.get(`/${route}`, async (c) => {
      try {
        const linkPrefix = linkPrefixOf(c.req.raw);
        const prefix = escapeAttr(linkPrefix);
        const graphUrl = escapeAttr(opts.graphUrl ?? `${linkPrefix}/graph`);
        let html = new TextDecoder().decode(await load(opts.uiDir + file))
          .replaceAll('{{PREFIX}}', prefix).replaceAll('{{GRAPH}}', graphUrl).replace('{{NAV}}', nav(prefix, page))
          .replace('</head>', `<link rel="icon" type="image/svg+xml" href="${prefix}/static/favicon.svg">\n</head>`);
        if (html.includes('{{EDITOR_SCRIPT}}')) {
          const editor = await hasEditor();
          html = html.replace('{{EDITOR_STATE}}', editor ? 'present' : 'missing')
            .replace('{{EDITOR_SCRIPT}}', editor ? `<script src="${prefix}/static/editor.js"></script>` : '');
        }
        return new Response(html, { headers: { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-cache' } });
      } catch (e) {
        return new Response(`UI page ${file} unavailable: ${(e as Error).message}\n`, { status: 500, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
      }
    });
  }
  app.get('/static/:name', async (c) => {
    const a = ASSETS[c.req.param('name')];
    if (!a) return c.text('not found\n', 404);
    try {
      const body = await load(pathOf(a));
      return new Response(body, { headers: { 'Content-Type': a.type, 'Cache-Control': 'public, max-age=300' } });
    } catch (e) {
      return c.text(`asset ${a.file || c.req.param('name')} unavailable: ${(e as Error).message}\n`, 500);
    }
  });
  return app;
}
