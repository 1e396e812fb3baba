// Benchmark dispatcher: `npm run bench -- <area> [args…]` runs bench/<area>.ts's default export.
const [area, ...rest] = process.argv.slice(2);
if (!area || !/^[\w-]+$/.test(area)) {
  console.error('usage: npm run bench -- <area> [args…]   (area = a file bench/<area>.ts)');
  process.exit(2);
}
const mod = (await import(`./${area}.ts`)) as { default: (args: string[]) => unknown };
await mod.default(rest);
export {};
