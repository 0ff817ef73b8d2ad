/**
 * Start-up mistakes an operator makes on day one end the process with one line saying what is
 * wrong, not a stack trace: a port already taken, a configuration value the apps cannot use.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { describe, test } from 'node:test';
import { freshSetup, run, runApp } from './support/processes.ts';

describe('start-up errors', () => {
  test('a port already in use: one line naming the address and the setting, exit 1', async () => {
    const setup = await freshSetup();
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(setup.resourcePort, '127.0.0.1', resolve));
    try {
      const app = runApp('resource-server', setup.env);
      const { code } = await app.exited;
      assert.equal(code, 1);
      assert.equal(app.output().trim(), `gatehouse resource-server: cannot listen on 127.0.0.1:${setup.resourcePort} (the port is in use); choose another port (RESOURCE_PORT, or the metrics port)`);
    } finally {
      taken.close();
      rmSync(setup.dir, { recursive: true, force: true });
    }
  });

  test('npm start with a bad setting reports it once, before starting either app, exit 2', async () => {
    const setup = await freshSetup({ RESOURCE_URL: 'http://localhost:4001/' });
    try {
      const launcher = run(process.execPath, ['--import', 'tsx', 'apps/start.ts'], setup.env);
      const { code } = await launcher.exited;
      assert.equal(code, 2);
      assert.equal(launcher.output().trim(), 'gatehouse: Invalid configuration: resource_server.resource (from RESOURCE_URL): expected an absolute http(s) URL with a path and no trailing slash, query or fragment (like https://mcp.example.com/mcp), got "http://localhost:4001/"');
    } finally {
      rmSync(setup.dir, { recursive: true, force: true });
    }
  });
});
