/**
 * An HTTP server's upstream sessions end with the client session (or stateless request) they were
 * opened for, also when it ends while one of its requests is still asking the servers: a
 * resources/read of a URI not yet listed asks every server for its resources, then for its
 * templates. Ended in between (the client's DELETE, or a stateless client going away), the
 * request used to open a fresh upstream session for the templates after the gateway had closed
 * the first one; nothing ever ended it, so each such request left an upstream session, its
 * connection and its open event stream behind, for as long as the process ran.
 *
 * The server is a small scripted node:http one: it holds resources/list until the gateway gives
 * up on it, and answers resources/templates/list with an error, so the request's last step logs
 * the same warning whether it reached the server or not.
 */
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { createLogger } from '../../apps/shared/logger.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { connectAs, waitForServers } from './support/gateway-client.ts';
import { scriptedHttpUpstream } from './support/scripted-http-upstream.ts';
import { httpServer } from './support/upstreams.ts';

const REVISION = '2026-07-28';
const NOT_LISTED = 'demo://not/listed';

describe('an HTTP server\'s sessions end with their caller', { timeout: 60_000 }, () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  const clients: Client[] = [];
  const logLines: Array<Record<string, unknown>> = [];
  /** Sessions the upstream opened (initialize) and ended (DELETE), by id. */
  const opened: string[] = [];
  const deleted: string[] = [];
  /** resources/list requests held open, by the session they came in. */
  const heldLists: string[] = [];
  const streams = new Set<ServerResponse>();

  const upstream = scriptedHttpUpstream(({ what, message, session, res, answer }) => {
    switch (what) {
      case 'initialize': {
        const id = `s${opened.length + 1}`;
        opened.push(id);
        return answer({ result: { protocolVersion: message.params?.protocolVersion, capabilities: { resources: {} }, serverInfo: { name: 'holding', version: '1.0.0' } } }, { 'mcp-session-id': id });
      }
      case 'GET':
        // The session's event stream, open until the gateway closes it.
        streams.add(res);
        res.once('close', () => streams.delete(res));
        res.writeHead(200, { 'content-type': 'text/event-stream' }).flushHeaders();
        return undefined;
      case 'resources/list':
        // Held until the gateway closes the connection: the caller ends meanwhile.
        heldLists.push(session);
        return undefined;
      case 'resources/templates/list':
        return answer({ error: { code: -32603, message: 'no templates today' } });
      case 'DELETE':
        deleted.push(session);
        return void res.writeHead(200).end();
      default:
        return void res.writeHead(202).end();
    }
  });

  before(async () => {
    issuer = await startTestIssuer();
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/mcp`;
    const logger = createLogger('resource-server', 'warn', { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) });
    server = await startResourceServer({ issuer: issuer.issuer, logger, config: { servers: [httpServer('holding', url)] } });
    await waitForServers(server.baseUrl, { holding: 'ready' });
  });
  after(async () => {
    for (const client of clients) await client.close().catch(() => {});
    await server?.close();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
    await issuer?.close();
  });

  /** Waits for the read's last step (the templates, refused either way), then compares what the upstream saw. */
  async function assertEveryUpstreamSessionEnded(templatesWarnings: number): Promise<void> {
    await waitFor('the read to reach its last step', () => logLines.filter((line) => line.list === 'resourceTemplates').length === templatesWarnings);
    assert.deepEqual(deleted, opened, 'every upstream session the gateway opened was ended (DELETE)');
    await waitFor('no event stream of an ended session to stay open', () => streams.size === 0);
  }

  test('a client session ended (DELETE) during a resources/read leaves no upstream session behind', { timeout: 15_000 }, async () => {
    const token = await issuer.mint({ claims: { scope: 'mcp:read' } });
    const { client, transport } = await connectAs(server.mcpUrl, token);
    clients.push(client);
    const reading = client.readResource({ uri: NOT_LISTED }).catch((err: unknown) => err);
    await waitFor('the server to hold the resources/list', () => heldLists.length === 1);
    await transport.terminateSession();
    await assertEveryUpstreamSessionEnded(1);
    await client.close();
    await reading;
  });

  test('a stateless request whose client goes away during a resources/read leaves no upstream session behind', { timeout: 15_000 }, async () => {
    const token = await issuer.mint({ claims: { scope: 'mcp:read' } });
    const closing = new AbortController();
    const sent = fetch(server.mcpUrl, {
      method: 'POST',
      signal: closing.signal,
      headers: {
        'Content-Type': 'application/json',
        Accept: 'application/json, text/event-stream',
        Authorization: `Bearer ${token}`,
        'MCP-Protocol-Version': REVISION,
        'Mcp-Method': 'resources/read',
        'Mcp-Name': NOT_LISTED,
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'resources/read',
        params: {
          uri: NOT_LISTED,
          _meta: {
            'io.modelcontextprotocol/protocolVersion': REVISION,
            'io.modelcontextprotocol/clientInfo': { name: 'leaving-client', version: '1.0.0' },
            'io.modelcontextprotocol/clientCapabilities': {},
          },
        },
      }),
    }).catch((err: unknown) => err);
    await waitFor('the server to hold the resources/list', () => heldLists.length === 2);
    closing.abort();
    await sent;
    await assertEveryUpstreamSessionEnded(2);
  });
});
