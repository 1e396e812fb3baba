// The layering and ownership rules of docs/ARCHITECTURE ("lib never imports host/ or plugins/",
// "providers never import each other, components neither", "every outbound connection behind a
// capability", "one owner per concept") as checkers over a file set { repo-relative path: source }.
// The *.test.ts files run them on the real tree and on synthetic violating sets, so each rule is
// shown to fail when broken. Sources are parsed with the TypeScript compiler (comments and strings
// never count as code).
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';

export type FileSet = Record<string, string>;

export const REPO = path.resolve(import.meta.dirname, '../..');

const SOURCE = /\.(m|c)?[jt]sx?$/;

/** The source files under `dirs` (repo-relative, forward slashes), node_modules skipped. */
export function loadTree(dirs: readonly string[], root = REPO): FileSet {
  const out: FileSet = {};
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const p = `${rel}/${e.name}`;
      if (e.isDirectory()) {
        if (e.name !== 'node_modules') walk(p);
      } else if (SOURCE.test(e.name) && !e.name.endsWith('.d.ts')) out[p] = fs.readFileSync(path.join(root, p), 'utf8');
    }
  };
  for (const d of dirs) if (fs.existsSync(path.join(root, d))) walk(d);
  return out;
}

const parsed = new Map<string, ts.SourceFile>();
function parse(file: string, text: string): ts.SourceFile {
  const key = `${file}\0${text.length}\0${text}`;
  let sf = parsed.get(key);
  if (!sf) {
    sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, file.endsWith('x') ? ts.ScriptKind.TSX : ts.ScriptKind.TS);
    parsed.set(key, sf);
  }
  return sf;
}

function lineOf(sf: ts.SourceFile, node: ts.Node): number {
  return sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
}

export interface ImportRef {
  /** The specifier as written ('../../host/index.ts', 'node:fs', 'hono'); null for a computed import(). */
  spec: string | null;
  /** Repo-relative path a relative specifier points at; undefined for packages and node: modules. */
  resolved?: string;
  line: number;
}

/** Every import of a file: static import/export-from, import x = require(), import(), require(). */
export function importsOf(file: string, text: string): ImportRef[] {
  const sf = parse(file, text);
  const out: ImportRef[] = [];
  const add = (lit: ts.Expression | undefined, at: ts.Node) => {
    if (lit && (ts.isStringLiteral(lit) || ts.isNoSubstitutionTemplateLiteral(lit))) {
      const spec = lit.text;
      const resolved = spec.startsWith('.') ? path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)) : undefined;
      out.push({ spec, resolved, line: lineOf(sf, at) });
    } else {
      out.push({ spec: null, line: lineOf(sf, at) });
    }
  };
  const visit = (n: ts.Node) => {
    if ((ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) && n.moduleSpecifier) add(n.moduleSpecifier, n);
    else if (ts.isImportEqualsDeclaration(n) && ts.isExternalModuleReference(n.moduleReference)) add(n.moduleReference.expression, n);
    else if (ts.isCallExpression(n) && (n.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(n.expression) && n.expression.text === 'require'))) add(n.arguments[0], n);
    else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument)) add(n.argument.literal as ts.Expression, n);
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

export interface Violation {
  file: string;
  line: number;
  rule: string;
  detail: string;
}

export const format = (vs: readonly Violation[]): string => vs.map((v) => `${v.file}:${v.line}: [${v.rule}] ${v.detail}`).join('\n');

const under = (p: string | undefined, dir: string): boolean => p !== undefined && (p === dir || p.startsWith(`${dir}/`));

/** (a) lib/ never imports host/ or plugins/ (not even types). */
export function checkLibLayering(files: FileSet): Violation[] {
  const out: Violation[] = [];
  for (const [file, text] of Object.entries(files)) {
    if (!under(file, 'lib')) continue;
    for (const i of importsOf(file, text)) {
      if (under(i.resolved, 'host') || under(i.resolved, 'plugins')) {
        out.push({ file, line: i.line, rule: 'lib-layering', detail: `lib/ imports ${i.spec} (${i.resolved}): lib never imports host/ or plugins/` });
      }
    }
  }
  return out;
}

/** The plugin folder a file belongs to: plugins/component/query, plugins/objstore/s3, ... */
export function pluginFolder(file: string): string | undefined {
  const m = /^plugins\/(component|objstore)\/([^/]+)\//.exec(file);
  return m ? `plugins/${m[1]}/${m[2]}` : undefined;
}

/**
 * (b) A plugin folder imports only lib/ and its own folder (plus npm packages): object-store
 * providers and components never import each other, nor the host (lib/sdk is the contract).
 */
export function checkPluginIsolation(files: FileSet): Violation[] {
  const out: Violation[] = [];
  for (const [file, text] of Object.entries(files)) {
    const own = pluginFolder(file);
    if (!own) continue;
    for (const i of importsOf(file, text)) {
      if (i.resolved === undefined) continue;
      if (under(i.resolved, own) || under(i.resolved, 'lib')) continue;
      const other = pluginFolder(`${i.resolved}/`) ?? pluginFolder(i.resolved);
      const what = other ? `another plugin (${other})` : under(i.resolved, 'host') ? 'the host (use lib/sdk)' : i.resolved;
      out.push({ file, line: i.line, rule: 'plugin-isolation', detail: `${own} imports ${i.spec}, ${what}: a plugin imports only lib/ and its own folder` });
    }
  }
  return out;
}

/** Node built-ins that open connections or touch files, also spelled without node: (every node: import is refused). */
const NODE_IO = new Set(['net', 'http', 'https', 'http2', 'tls', 'dgram', 'dns', 'dns/promises', 'fs', 'fs/promises', 'child_process', 'cluster', 'worker_threads', 'inspector']);
const NET_PACKAGES = ['@grpc/grpc-js', '@hono/node-server', 'undici', 'node-fetch', 'ws', 'axios', 'got'];
/** Scripts a plugin serves to browsers (its web UI): they run in the user's browser, not in the host. */
const BROWSER_ASSETS = /^plugins\/[^/]+\/[^/]+\/ui\//;
const GLOBAL_OBJECTS = new Set(['globalThis', 'global', 'window', 'self']);

/** Whether a binding pattern or name declares `name`. */
function bindsName(n: ts.BindingName | undefined, name: string): boolean {
  if (!n) return false;
  if (ts.isIdentifier(n)) return n.text === name;
  return n.elements.some((e) => !ts.isOmittedExpression(e) && bindsName(e.name, name));
}

/** Whether a statement list declares `name` (var/let/const, function, class, import). */
function statementsDeclare(stmts: readonly ts.Statement[], name: string): boolean {
  return stmts.some((st) =>
    (ts.isVariableStatement(st) && st.declarationList.declarations.some((d) => bindsName(d.name, name)))
    || ((ts.isFunctionDeclaration(st) || ts.isClassDeclaration(st)) && st.name?.text === name)
    || (ts.isImportDeclaration(st) && !!st.importClause && (st.importClause.name?.text === name
      || (!!st.importClause.namedBindings && (ts.isNamespaceImport(st.importClause.namedBindings)
        ? st.importClause.namedBindings.name.text === name
        : st.importClause.namedBindings.elements.some((e) => e.name.text === name))))));
}

/** Whether `id` resolves to a local binding (a parameter, variable, function or import in an enclosing scope). */
function resolvesLocally(id: ts.Identifier): boolean {
  const name = id.text;
  for (let n: ts.Node | undefined = id.parent; n; n = n.parent) {
    if (ts.isFunctionLike(n) && n.parameters.some((p) => bindsName(p.name, name))) return true;
    if ((ts.isFunctionExpression(n) || ts.isClassExpression(n)) && n.name?.text === name) return true;
    if ((ts.isBlock(n) || ts.isSourceFile(n) || ts.isModuleBlock(n) || ts.isCaseClause(n) || ts.isDefaultClause(n)) && statementsDeclare(n.statements, name)) return true;
    if ((ts.isForStatement(n) || ts.isForInStatement(n) || ts.isForOfStatement(n)) && n.initializer && ts.isVariableDeclarationList(n.initializer)
      && n.initializer.declarations.some((d) => bindsName(d.name, name))) return true;
    if (ts.isCatchClause(n) && n.variableDeclaration && bindsName(n.variableDeclaration.name, name)) return true;
  }
  return false;
}

/**
 * (c) Plugins reach the outside only through their capabilities: no import of host/server/*, of
 * node: I/O modules (net, http, fs, child_process, ...) or network packages (@grpc/grpc-js, undici,
 * ...), no computed import(), and no global fetch (a `fetch(...)` call or `fetch` value that no
 * enclosing scope binds, `globalThis.fetch`, `globalThis['fetch']`).
 */
export function checkCapabilitiesOnly(files: FileSet): Violation[] {
  const out: Violation[] = [];
  for (const [file, text] of Object.entries(files)) {
    if (!pluginFolder(file) || BROWSER_ASSETS.test(file)) continue;
    const v = (line: number, detail: string) => out.push({ file, line, rule: 'capabilities-only', detail });
    for (const i of importsOf(file, text)) {
      if (i.spec === null) { v(i.line, 'import() of a computed specifier: plugins import only what the rules can see'); continue; }
      if (under(i.resolved, 'host/server')) v(i.line, `imports ${i.spec}: host/server is the host's; use ctx.listen/ctx.grpcDial`);
      if (i.spec.startsWith('node:') || NODE_IO.has(i.spec)) v(i.line, `imports ${i.spec}: use the capabilities (ctx.fetch, ctx.connect, ctx.grpcDial, ctx.fs) instead`);
      if (NET_PACKAGES.some((p) => i.spec === p || i.spec!.startsWith(`${p}/`))) v(i.line, `imports ${i.spec}, a network client: use ctx.fetch / ctx.connect / ctx.grpcDial`);
    }
    const sf = parse(file, text);
    const visit = (n: ts.Node) => {
      if (ts.isPropertyAccessExpression(n) && n.name.text === 'fetch' && ts.isIdentifier(n.expression) && GLOBAL_OBJECTS.has(n.expression.text)) {
        v(lineOf(sf, n), `${n.getText(sf)}: the global fetch bypasses the net grant; use ctx.fetch`);
      } else if (ts.isElementAccessExpression(n) && ts.isIdentifier(n.expression) && GLOBAL_OBJECTS.has(n.expression.text)
        && ts.isStringLiteralLike(n.argumentExpression) && n.argumentExpression.text === 'fetch') {
        v(lineOf(sf, n), `${n.getText(sf)}: the global fetch bypasses the net grant; use ctx.fetch`);
      } else if (ts.isIdentifier(n) && n.text === 'fetch' && isValueReference(n) && !isDeclarationName(n) && !resolvesLocally(n)) {
        v(lineOf(sf, n), `${ts.isCallExpression(n.parent) && n.parent.expression === n ? 'fetch(...)' : 'fetch'} is the global fetch: it bypasses the net grant; use ctx.fetch`);
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return out;
}

/** Whether an identifier is the name a declaration introduces (const fetch = ..., (fetch) => ..., import { fetch }). */
function isDeclarationName(id: ts.Identifier): boolean {
  const p = id.parent;
  return ((ts.isVariableDeclaration(p) || ts.isParameter(p) || ts.isBindingElement(p) || ts.isFunctionDeclaration(p) || ts.isFunctionExpression(p)
    || ts.isClassDeclaration(p) || ts.isImportClause(p) || ts.isNamespaceImport(p)) && p.name === id);
}

/** Whether an identifier is a reference to a binding (not a property name, member or declaration name). */
function isValueReference(id: ts.Identifier): boolean {
  const p = id.parent;
  if (ts.isPropertyAccessExpression(p) && p.name === id) return false;
  if ((ts.isPropertyAssignment(p) || ts.isMethodDeclaration(p) || ts.isPropertyDeclaration(p) || ts.isPropertySignature(p)
    || ts.isMethodSignature(p) || ts.isGetAccessor(p) || ts.isSetAccessor(p) || ts.isEnumMember(p)) && p.name === id) return false;
  if (ts.isQualifiedName(p) || ts.isTypeReferenceNode(p) || ts.isImportSpecifier(p) || ts.isExportSpecifier(p) || ts.isLabeledStatement(p)) return false;
  if (ts.isBindingElement(p) && p.propertyName === id) return false;
  return true;
}

/** One concept and the one module allowed to declare its names. */
export interface Concept {
  concept: string;
  owner: string;
  names: readonly string[];
}

/** An accepted duplicate while its removal is under way: the file, the name and why (a TODO). */
export interface Allowed {
  file: string;
  name: string;
  todo: string;
}

/** Top-level declarations of a file (exported or not): functions, classes, interfaces, types, enums, variables. */
export function declarationsOf(file: string, text: string): Array<{ name: string; line: number; exported: boolean }> {
  const sf = parse(file, text);
  const out: Array<{ name: string; line: number; exported: boolean }> = [];
  for (const st of sf.statements) {
    const exported = !!(ts.canHaveModifiers(st) && ts.getModifiers(st)?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword));
    if ((ts.isFunctionDeclaration(st) || ts.isClassDeclaration(st) || ts.isInterfaceDeclaration(st) || ts.isTypeAliasDeclaration(st) || ts.isEnumDeclaration(st)) && st.name) {
      out.push({ name: st.name.text, line: lineOf(sf, st), exported });
    } else if (ts.isVariableStatement(st)) {
      for (const d of st.declarationList.declarations) if (ts.isIdentifier(d.name)) out.push({ name: d.name.text, line: lineOf(sf, d), exported });
    }
  }
  return out;
}

/**
 * (d) One owner per concept: only the owner module declares a concept's names; everyone else
 * imports (or re-exports) them. Any top-level declaration of such a name elsewhere, exported or
 * module-private, is a second owner. Returns the violations not in `allowed`, and the allow-list
 * entries that no longer match anything (so a landed fix shrinks the list).
 */
export function checkOwners(files: FileSet, concepts: readonly Concept[], allowed: readonly Allowed[] = []): { violations: Violation[]; stale: Allowed[] } {
  const owners = new Map<string, Concept>();
  for (const c of concepts) for (const n of c.names) owners.set(n, c);
  const violations: Violation[] = [];
  const used = new Set<Allowed>();
  for (const [file, text] of Object.entries(files)) {
    for (const d of declarationsOf(file, text)) {
      const c = owners.get(d.name);
      if (!c || file === c.owner) continue;
      const a = allowed.find((x) => x.file === file && x.name === d.name);
      if (a) { used.add(a); continue; }
      violations.push({ file, line: d.line, rule: 'one-owner', detail: `declares ${d.name} (${c.concept}); its one owner is ${c.owner}: import it from there` });
    }
  }
  return { violations, stale: allowed.filter((a) => !used.has(a)) };
}
