/**
 * Authentication can be switched off only in code (for the benchmark's baseline): it is on unless
 * asked for, and when off the server says so loudly at start and serves one anonymous caller.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { startResourceServer, useIssuerAndServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { connectClient, mcpRequest } from '../helpers/mcp-http.ts';

describe('authentication switched off in code', () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  let client: Client;
  const logged: Array<{ level: number; msg: string }> = [];

  before(async () => {
    issuer = await startTestIssuer();
    const logger = pino({ level: 'warn' }, new Writable({ write(chunk, _encoding, done) { logged.push(JSON.parse(String(chunk))); done(); } }));
    server = await startResourceServer({ issuer: issuer.issuer, dangerouslyDisableAuthentication: true, logger });
    ({ client } = await connectClient(server.mcpUrl, 'ignored'));
  });
  after(async () => {
    await client?.close();
    await server?.close();
    await issuer?.close();
  });

  test('warns at start that authentication is disabled', () => {
    assert.ok(logged.some(({ level, msg }) => level === 40 && /AUTHENTICATION IS DISABLED/.test(msg)));
  });

  test('serves requests without a token as one anonymous caller', async () => {
    assert.equal((await mcpRequest(server.mcpUrl)).status, 200);
    const me = (await client.callTool({ name: 'whoami', arguments: {} })).structuredContent as Record<string, unknown>;
    assert.equal(me.subject, 'anonymous');
    assert.equal(me.client_id, 'unauthenticated');
  });
});

describe('authentication by default', () => {
  const suite = useIssuerAndServer();

  test('is on when the option is not given', async () => {
    assert.equal((await mcpRequest(suite.server.mcpUrl)).status, 401);
  });
});
