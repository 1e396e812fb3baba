// The querier's web UI routes: /graph, /stores and their static assets (our ui/ directory and
// uPlot's dist files from node_modules), read through the file capability and cached in memory.
import { Hono } from 'hono';

export interface UiOptions {
  readFile(path: string): Promise<Uint8Array>;
  uiDir: string;
  uplotDir: string;
  /** Prefix written into links and asset URLs (--web.external-prefix or --web.route-prefix). */
  linkPrefix: string;
}

const ASSETS: Record<string, { dir: 'ui' | 'uplot'; file: string; type: string }> = {
  'graph.js': { dir: 'ui', file: 'graph.js', type: 'text/javascript; charset=utf-8' },
  'stores.js': { dir: 'ui', file: 'stores.js', type: 'text/javascript; charset=utf-8' },
  'style.css': { dir: 'ui', file: 'style.css', type: 'text/css; charset=utf-8' },
  'uPlot.iife.min.js': { dir: 'uplot', file: 'uPlot.iife.min.js', type: 'text/javascript; charset=utf-8' },
  'uPlot.min.css': { dir: 'uplot', file: 'uPlot.min.css', type: 'text/css; charset=utf-8' },
};

const PAGES: Record<string, string> = { graph: 'graph.html', stores: 'stores.html' };

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

  app.get('/', (c) => c.redirect(`${opts.linkPrefix}/graph`, 302));
  for (const [route, file] of Object.entries(PAGES)) {
    app.get(`/${route}`, async () => {
      try {
        const html = new TextDecoder().decode(await load(opts.uiDir + file)).replaceAll('{{PREFIX}}', escapeAttr(opts.linkPrefix));
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
