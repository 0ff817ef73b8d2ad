/**
 * A working connection asked for more scope (a 403 step-up) is still a working connection:
 * alice (mcp:read and mcp:write) connects, creates and lists notes through the MCP SDK client,
 * then calls recent_activity (mcp:admin) and is refused 403 insufficient_scope. The admin's
 * attempt page, `gatehouse connections show` and alice's /account read it as connected, the
 * refusal a note, not as a failed attempt that "did not get through".
 *
 * Both real apps (the resource server beside the auth-server), the connection through the real
 * pages (test/helpers/oauth-flow.ts), the MCP TypeScript SDK client with the token.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { PageResult } from '../helpers/browser.ts';
import { connectClient } from '../helpers/mcp-http.ts';
import { freePort } from '../helpers/net.ts';
import { connect, redeem } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { startResourceServerBeside } from '../helpers/start-resource-server-beside.ts';
import { makeCliDir, runCli } from '../cli/support/cli-runner.ts';
import { createUser, signInAt } from './support/admin-browser.ts';
import { registerAs } from './support/failing-connections.ts';

function text(page: PageResult): string {
  return page.html.replace(/<[^>]+>/g, ' ').replace(/&amp;/g, '&').replace(/&#39;/g, "'").replace(/\s+/g, ' ');
}

describe('a connection refused more scope after it worked', () => {
  let auth: TestAuthServer;
  let resource: Awaited<ReturnType<typeof startResourceServerBeside>> | undefined;
  let attemptId: string;
  // The CLI reads the server's database and keys there.
  const dir = makeCliDir('gatehouse-step-up-');

  before(async () => {
    auth = await startAuthServer({ dir, env: { RESOURCE_URL: `http://127.0.0.1:${await freePort()}/mcp` } });
    resource = await startResourceServerBeside(auth);
    await createUser(auth, 'alice', 'alice password 1234', ['mcp:read', 'mcp:write']);
    const client = await registerAs(auth, 'Claude');
    const tokens = await redeem(auth.issuer, client, await connect(auth.issuer, {
      clientId: client.client_id, scope: 'mcp:read mcp:write', resource: resource.mcpUrl, username: 'alice', password: 'alice password 1234',
    }));
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    const { client: mcp } = await connectClient(resource.mcpUrl, tokens.body.access_token as string);
    try {
      assert.equal((await mcp.callTool({ name: 'create_note', arguments: { title: 'groceries', body: 'milk' } })).isError, undefined);
      await mcp.callTool({ name: 'list_notes', arguments: {} });
      await assert.rejects(mcp.callTool({ name: 'recent_activity', arguments: {} }), /insufficient_scope/);
    } finally {
      await mcp.close();
    }
    await resource.connectionRecorder.flush();
    await auth.auth.connectionRecorder.flush();
    const { attempts } = await auth.auth.connections.list({ clientId: client.client_id });
    assert.equal(attempts.length, 1, JSON.stringify(attempts));
    attemptId = attempts[0]!.id;
  });
  after(async () => {
    await resource?.close();
    await auth?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the admin\'s attempt page: connected, the step-up a note with its reason, the refusal in the timeline', async () => {
    const { browser } = await signInAt(auth, 'admin', ADMIN_PASSWORD);
    const page = await browser.navigate(`/admin/connections/${encodeURIComponent(attemptId)}`);
    assert.equal(page.status, 200);
    const words = text(page);
    assert.match(words, /connected ·/, words);
    assert.doesNotMatch(page.html, /Failed at:/);
    assert.match(words, /Connected; then refused at: more scopes asked for \(403 insufficient_scope\) recent_activity needs mcp:admin/);
    assert.match(words, /MCP server more scopes asked for \(403 insufficient_scope\) refused insufficient_scope/);
  });

  test('gatehouse connections show: outcome connected, then the refusal', async () => {
    const shown = await runCli(dir, ['connections', 'show', '--', attemptId], '', { ISSUER: auth.issuer, RESOURCE_URL: resource!.mcpUrl });
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /^outcome {3}connected; then refused at more scopes asked for \(403 insufficient_scope\): `recent_activity` needs `mcp:admin`/m, shown.stdout);
  });

  test('alice\'s /account lists no failed attempt', async () => {
    const words = text((await signInAt(auth, 'alice', 'alice password 1234', '/account')).page);
    const failures = words.slice(words.indexOf('Failed connection attempts'));
    assert.match(failures, /No failed attempts/, failures);
  });
});
