/**
 * The auth-server's home page (`/`), where the banner's URL leads: what this server is, the MCP
 * URL to paste into a client (with a Copy button, a script file because the CSP allows no inline
 * script), and the ways to "My apps" (/account, which signs in first) and the admin pages.
 *
 * Public and session-free: it shows only what the discovery documents already publish.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Router from '@koa/router';
import { VIEWS_DIR, type Render } from '../views/create-renderer.ts';

const COPY_SCRIPT = readFileSync(join(VIEWS_DIR, 'static', 'copy-button.js'));

export function homePage(options: { render: Render; mcpUrl: string }): Router {
  const router = new Router();
  router.get('/', function showHomePage(ctx) {
    ctx.type = 'html';
    ctx.body = options.render('home.njk', { title: 'Home', mcpUrl: options.mcpUrl });
  });
  router.get('/static/copy-button.js', function copyButtonScript(ctx) {
    ctx.type = 'text/javascript';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = COPY_SCRIPT;
  });
  return router;
}
