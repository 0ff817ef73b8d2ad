/**
 * Renders the nunjucks templates in views/ with autoescaping on. Every page gets the issuer's
 * host for the layout, and the `plural` and `escapeControls` filters; templates get only what
 * they show.
 */
import { join } from 'node:path';
import nunjucks from 'nunjucks';
import { escapeControlCharacters } from '../../../shared/escape-control-characters.ts';
import { PROJECT_ROOT } from '../../../shared/project-root.ts';
import { plural } from './plural.ts';

export const VIEWS_DIR = join(PROJECT_ROOT, 'views');

export type Render = (template: string, context: Record<string, unknown>) => string;

export function createRenderer(issuer: string): Render {
  const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(VIEWS_DIR, { noCache: false }), {
    autoescape: true,
    throwOnUndefined: false,
  });
  // `{{ n }} {{ n | plural('user') }}`: one helper for every count on every page.
  env.addFilter('plural', plural);
  // `{{ user.username | escapeControls }}`: a username stored before 766aff1 and 7d19e7d refused
  // them, or a subject as its upstream spells it, may hold control and bidi characters, which
  // autoescaping leaves to steer the display ('eve\u202enimda' read as 'eveadmin', 'bob\n' as
  // 'bob'); they are written out instead. Never for a form's value, which must send back what is stored.
  env.addFilter('escapeControls', (value: unknown) => (typeof value === 'string' ? escapeControlCharacters(value) : value));
  const issuerHost = new URL(issuer).host;
  return (template, context) => env.render(template, { ...context, issuerHost });
}
