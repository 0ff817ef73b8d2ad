/**
 * A stdio server's stdout line that is not a JSON-RPC message (a debug print, a token it read) is
 * dropped with a warn line naming the server, the line's length and that it came from stdout, and
 * quoting nothing of it. The line quoted JSON.parse's message, which holds the first ten
 * characters of the text (`Unexpected token 'T', "TOKEN=sk-l"... is not valid JSON`): a server
 * printing a secret put its start in Gatehouse's log. Such a secret is the server's own, not a
 * configured credential, so redaction cannot know it.
 *
 * Real resource server, real SDK stdio servers behind it whose tool prints what it is asked to:
 * one per case, as a connection logs such errors at most once a minute (and the resource server's
 * clock cannot be moved on by minutes without its revocation feed going stale).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { createLogger } from '../../apps/shared/logger.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { connectAs, resultText, waitForServers } from './support/gateway-client.ts';
import { PRINTING, stdioServer } from './support/upstreams.ts';

const SECRET = `sk-live-${randomBytes(16).toString('hex')}`;

/** [case, the line printed, what the warn line says it is not] */
const LINES: Array<[string, string, string]> = [
  ['a token on its own', SECRET, 'JSON'],
  ['a shell-style assignment', `API_TOKEN=${SECRET}`, 'JSON'],
  ['JSON broken at the token', `{"token": ${SECRET}}`, 'JSON'],
  ['a JSON string', JSON.stringify(SECRET), 'a JSON-RPC 2.0 message'],
  ['a JSON object that is no JSON-RPC message', JSON.stringify({ token: SECRET }), 'a JSON-RPC 2.0 message'],
  ['non-ASCII text, counted in bytes', `jeton: ${SECRET} ✓`, 'JSON'],
];

describe('a stdio server writing a line on stdout that is no JSON-RPC message', { timeout: 60_000 }, () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  let client: Client;
  const logLines: Array<Record<string, unknown>> = [];
  const warnings = (upstream: string) => logLines.filter((line) => line.level === 40 && line.server === upstream);

  before(async () => {
    issuer = await startTestIssuer();
    const logger = createLogger('resource-server', 'debug', { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) });
    const servers = LINES.map((_line, index) => stdioServer(`printing-${index}`, PRINTING));
    server = await startResourceServer({ issuer: issuer.issuer, logger, config: { servers } });
    await waitForServers(server.baseUrl, Object.fromEntries(servers.map(({ name }) => [name, 'ready' as const])), 30_000);
    client = (await connectAs(server.mcpUrl, await issuer.mint())).client;
  });
  after(async () => {
    await client?.close();
    await server?.close();
    await issuer?.close();
  });

  for (const [index, [name, line, notWhat]] of LINES.entries()) {
    test(`${name}: a warn line with its length, quoting none of it`, async () => {
      assert.equal(resultText(await client.callTool({ name: `printing-${index}__print`, arguments: { line } })), 'printed');
      const warning = await waitFor('the warn line', () => warnings(`printing-${index}`)[0]);
      assert.equal(warning.error, `a line of ${Buffer.byteLength(line)} bytes on its stdout is not ${notWhat}`);
      for (const logged of logLines) assert.doesNotMatch(JSON.stringify(logged), /sk-live|API_TOKEN|jeton/, 'no log line quotes the line');
    });
  }
});
