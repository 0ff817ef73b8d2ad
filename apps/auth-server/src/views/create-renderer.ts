/**
 * Renders the nunjucks templates in views/ with autoescaping on. Every page gets the issuer's
 * host for the layout, and the `plural` filter; templates get only what they show.
 */
import { join } from 'node:path';
import nunjucks from 'nunjucks';
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
  const issuerHost = new URL(issuer).host;
  return (template, context) => env.render(template, { ...context, issuerHost });
}
