// The one favicon of the web pages (querier/ruler UI, block viewers): served as /favicon.ico and
// /static/favicon.svg by lib/web/ui.ts, inlined as a data URI by the server-rendered block viewers
// (so a browser's own /favicon.ico request never 404s: no console error on any page).
export const FAVICON_SVG = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><circle cx="16" cy="16" r="15" fill="#6d41a1"/><path d="M9 10h14v3h-5.5v11h-3V13H9z" fill="#fff"/></svg>';

/** A <link rel="icon"> carrying the favicon inline. */
export const FAVICON_LINK = `<link rel="icon" type="image/svg+xml" href="data:image/svg+xml,${encodeURIComponent(FAVICON_SVG)}">`;
