/**
 * The project root: the nearest directory above this module that holds `package.json`. That is
 * the repository under tsx (apps/shared/) and after `npm run build` (dist/apps/shared/), and /app
 * in the container image, so `migrations/` and `views/` are found the same way in all three
 * without copying them into dist/.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

function findProjectRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export const PROJECT_ROOT = findProjectRoot(import.meta.dirname);
