// lib/rules: Prometheus rule files (parse.ts), alert templates (template.ts), globbing (glob.ts) and
// the evaluation state machine the ruler runs (eval.ts).
export * from './parse.ts';
export { expandTemplate, checkTemplate, parseTemplate, TemplateError, humanize, humanize1024, humanizeDuration, sprintf, goFloat, type TemplateData } from './template.ts';
export { glob, hasMeta, type GlobFs } from './glob.ts';
export * from './eval.ts';
