// The web UI routes shared by the querier and the ruler: /graph, /stores, /alerts, /rules, /flags, /status and their static assets (the querier plugin's ui/ directory and
// uPlot's dist files from node_modules), read through the file capability and cached in memory.
import { Hono } from 'hono';

export interface UiOptions {
  readFile(path: string): Promise<Uint8Array>;
  uiDir: string;
  uplotDir: string;
  /** Prefix written into links and asset URLs (--web.external-prefix or --web.route-prefix). */
  linkPrefix: string;
  /** Pages served and shown in the navigation, in order (default: the querier's). */
  pages?: string[];
  /** Extra routes that serve one of the pages (the ruler: graph → rules, for generatorURL). */
  aliases?: Record<string, string>;
  /** Where `/` redirects (default: the first page). */
  home?: string;
  /** Base of the expression links on the rules/alerts pages (default: this UI's /graph). */
  graphUrl?: string;
}

const ASSETS: Record<string, { dir: 'ui' | 'uplot'; file: string; type: string }> = {
  'graph.js': { dir: 'ui', file: 'graph.js', type: 'text/javascript; charset=utf-8' },
  'stores.js': { dir: 'ui', file: 'stores.js', type: 'text/javascript; charset=utf-8' },
  'rules.js': { dir: 'ui', file: 'rules.js', type: 'text/javascript; charset=utf-8' },
  'status.js': { dir: 'ui', file: 'status.js', type: 'text/javascript; charset=utf-8' },
  'style.css': { dir: 'ui', file: 'style.css', type: 'text/css; charset=utf-8' },
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
  const dirOf = (d: 'ui' | 'uplot') => (d === 'ui' ? opts.uiDir : opts.uplotDir);
  const app = new Hono();

  const pages = opts.pages ?? ['graph', 'stores', 'alerts', 'rules', 'flags', 'status'];
  const prefix = escapeAttr(opts.linkPrefix);
  const nav = (active: string) => `<nav class="top">\n  <a class="brand" href="${prefix}/${pages[0]}">Thanos</a>\n${
    pages.map((p) => `  <a href="${prefix}/${p}"${p === active ? ' class="active"' : ''}>${PAGES[p]!.title}</a>\n`).join('')}</nav>`;
  const graphUrl = escapeAttr(opts.graphUrl ?? `${opts.linkPrefix}/graph`);
  app.get('/', (c) => c.redirect(`${opts.linkPrefix}/${opts.home ?? pages[0]}`, 302));
  const routes: Array<[string, string]> = [...pages.map((p): [string, string] => [p, p]), ...Object.entries(opts.aliases ?? {})];
  for (const [route, page] of routes) {
    const file = PAGES[page]!.file;
    app.get(`/${route}`, async () => {
      try {
        const html = new TextDecoder().decode(await load(opts.uiDir + file))
          .replaceAll('{{PREFIX}}', prefix).replaceAll('{{GRAPH}}', graphUrl).replace('{{NAV}}', nav(page));
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
      const body = await load(dirOf(a.dir) + a.file);
      return new Response(body, { headers: { 'Content-Type': a.type, 'Cache-Control': 'public, max-age=300' } });
    } catch (e) {
      return c.text(`asset ${a.file} unavailable: ${(e as Error).message}\n`, 500);
    }
  });
  return app;
}
