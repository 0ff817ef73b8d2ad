/**
 * The compiled build really runs, laid out as the container image lays it out: package.json,
 * production node_modules, dist/, migrations/ and views/ in one directory, and no TypeScript
 * sources at all. Started with the image's command (plain node, no tsx); the CLI command its
 * banner and help print is run there too.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { connect, registerClient } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD } from '../helpers/start-auth-server.ts';
import { freshSetup, isRefused, kill, REPO_ROOT, run, waitForOk, type RunningProcess } from './support/processes.ts';

describe('the compiled build (npm run build)', () => {
  const image = mkdtempSync(join(tmpdir(), 'gatehouse-image-'));
  let app: RunningProcess | undefined;
  after(() => {
    kill(app);
    rmSync(image, { recursive: true, force: true });
  });

  test('compiles, and starts from dist/ with node alone: both apps healthy, migrations applied, pages rendered', async () => {
    const build = spawnSync('npm', ['run', 'build', '--', '--outDir', join(image, 'dist')], { cwd: REPO_ROOT, encoding: 'utf8' });
    assert.equal(build.status, 0, `npm run build failed:\n${build.stdout}\n${build.stderr}`);
    copyFileSync(join(REPO_ROOT, 'package.json'), join(image, 'package.json'));
    for (const name of ['node_modules', 'migrations', 'views']) symlinkSync(join(REPO_ROOT, name), join(image, name));

    const setup = await freshSetup({ BOOTSTRAP_ADMIN_PASSWORD: ADMIN_PASSWORD });
    try {
      // The Dockerfile's CMD, run where the image has its files.
      app = run(process.execPath, [join(image, 'dist', 'apps', 'start.js')], setup.env);
      await app.waitForOutput(/Press Ctrl-C/);
      for (const base of [setup.issuer, `http://127.0.0.1:${setup.resourcePort}`]) {
        const ready = await waitForOk(`${base}/readyz`, { proc: app });
        assert.equal((await ready.json() as { status: string }).status, 'ready', 'database migrated and usable');
      }
      const css = await fetch(`${setup.issuer}/static/gatehouse.css`);
      assert.equal(css.status, 200, 'views/ found from dist/');
      const client = await registerClient(setup.issuer);
      const signedIn = await connect(setup.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: setup.mcpUrl, username: 'admin', password: ADMIN_PASSWORD });
      assert.ok(signedIn.code, 'the sign-in and consent templates render');

      // What the banner and the CLI's help tell a person to type runs where the build runs: the
      // image has no TypeScript sources and no tsx, so the package's bin (`npx gatehouse`) does not.
      const hint = /Set a new one:\n {4}(.+)\n/.exec(app.output())?.[1];
      assert.ok(hint, `the banner says how to set a new password:\n${app.output()}`);
      const reset = spawnSync('sh', ['-c', hint], { cwd: image, env: setup.env, input: 'another horse battery staple\n', encoding: 'utf8' });
      assert.equal(reset.status, 0, `\`${hint}\`, typed in the image's directory:\n${reset.stdout}${reset.stderr}`);
      const help = spawnSync(process.execPath, [join(image, 'dist', 'apps', 'auth-server', 'src', 'cli', 'main.js'), '--help'], { cwd: image, encoding: 'utf8' });
      assert.ok(help.stdout.startsWith(`usage: ${hint.replace(/^(?:[A-Z_]+=\S+ )*/, '').replace(/ users passwd admin$/, '')} [--json]`), help.stdout);

      app.signal('SIGTERM');
      assert.equal((await app.exited).code, 0, app.output());
      assert.ok(await isRefused(setup.authPort));
      assert.ok(await isRefused(setup.resourcePort));
    } finally {
      rmSync(setup.dir, { recursive: true, force: true });
    }
  });
});
