/**
 * The resource server's few HTML pages (views/resource-server/), rendered with nunjucks and
 * autoescape on, as every page of the project is: what a page shows is escaped by the template
 * engine, not by hand. Each page shows only configured values and is rendered once, at start.
 */
import { join } from 'node:path';
import nunjucks from 'nunjucks';
import { PROJECT_ROOT } from '../../../shared/project-root.ts';

let views: nunjucks.Environment | undefined;

/** The HTML of views/resource-server/<name>.njk with `context`. */
export function renderPage(name: string, context: Record<string, string>): string {
  views ??= new nunjucks.Environment(new nunjucks.FileSystemLoader(join(PROJECT_ROOT, 'views')), { autoescape: true });
  return views.render(`resource-server/${name}.njk`, context);
}
