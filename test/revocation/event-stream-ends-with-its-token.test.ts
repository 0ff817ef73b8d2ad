/**
 * A session's server-to-client stream (GET /mcp) ends once the token it was opened with is
 * refused, as every request with that token is: revoked on the feed (its user, client, grant,
 * the token itself, its signing key) or expired. Reopening it with that token gets the 401
 * challenge. Another user's stream on the same server stays open, so the table cannot pass by
 * ending every stream. A real resource server, the test issuer's feed, real tokens, real streams,
 * and a real MCP SDK client, whose transport reopens its ended stream and is refused.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { request, type ClientRequest } from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { mcpRequest, openSession, parseChallenge } from '../helpers/mcp-http.ts';
import { waitFor } from '../helpers/wait-for.ts';

/** Longest a stream may take to end after its token is refused (the checks run every feed poll, 0.2 s here). */
const ENDS_WITHIN_MS = 5000;

interface OpenStream {
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  readonly open: boolean;
  close(): void;
}

/** Opens the session's GET stream with `token`, as a Streamable HTTP client does. */
async function openStream(mcpUrl: string, token: string, sessionId: string): Promise<OpenStream> {
  const url = new URL(mcpUrl);
  let open = false;
  let req: ClientRequest;
  const { ended } = await new Promise<{ ended: Promise<void> }>((resolve, reject) => {
    req = request({
      host: url.hostname, port: url.port, path: url.pathname, method: 'GET', agent: false,
      headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream', 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' },
    }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`the stream was not opened: ${res.statusCode}`));
      open = true;
      res.resume();
      resolve({ ended: new Promise<void>((done) => res.once('end', () => {
        open = false;
        done();
      })) });
    });
    req.on('error', reject);
    req.end();
  });
  return {
    ended,
    get open() { return open; },
    close: () => req.destroy(),
  };
}

/** Whether `stream` ends within ENDS_WITHIN_MS. */
async function endsInTime(stream: OpenStream): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ENDS_WITHIN_MS);
  });
  try {
    return await Promise.race([stream.ended.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

const now = () => Math.floor(Date.now() / 1000);

describe('an MCP event stream ends with the token it was opened with', () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  const clock = TestClock.ahead(0);

  before(async () => {
    issuer = await startTestIssuer();
    server = await startResourceServer({ issuer: issuer.issuer, clock });
  });
  after(async () => {
    await server?.close();
    await issuer?.close();
  });

  interface Ids { sub: string; client: string; grant: string; jti: string }
  // [what happens to the token, the claims it is minted with, how it stops being accepted, what the 401 says]
  const cases: Array<[string, (ids: Ids) => Record<string, unknown>, (ids: Ids) => Promise<void> | void, RegExp]> = [
    ['its user is disabled', (ids) => ({ sub: ids.sub }), (ids) => issuer.revoke('sub', ids.sub), /revoked/],
    ['its client is deleted', (ids) => ({ client_id: ids.client }), (ids) => issuer.revoke('client', ids.client), /revoked/],
    ['its grant is revoked', (ids) => ({ gid: ids.grant }), (ids) => issuer.revoke('grant', ids.grant), /revoked/],
    ['the token itself is revoked', (ids) => ({ jti: ids.jti }), (ids) => issuer.revoke('token', ids.jti), /revoked/],
    ['it expires', () => ({ exp: now() + 60 }), () => clock.advance(120), /expired/],
  ];

  test('an MCP SDK client\'s stream is ended once its user is disabled, and its reconnection is refused with 401', async () => {
    const sub = randomUUID();
    const token = await issuer.mint({ claims: { sub, iat: now() - 5 } });
    // The client's own fetch, recording what its GETs (the server-to-client stream) were answered.
    const gets: number[] = [];
    const recordingFetch: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (init?.method === 'GET') gets.push(response.status);
      return response;
    };
    const client = new Client({ name: 'gatehouse-test', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(server.mcpUrl), {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
      fetch: recordingFetch,
      reconnectionOptions: { initialReconnectionDelay: 50, maxReconnectionDelay: 50, reconnectionDelayGrowFactor: 1, maxRetries: 1 },
    });
    client.onerror = () => { /* the refused reconnection is reported here */ };
    await client.connect(transport);
    try {
      await waitFor('the client opened its stream', () => gets.includes(200), 5000);
      issuer.revoke('sub', sub);
      await waitFor('the client reopening its ended stream, refused', () => gets.includes(401), ENDS_WITHIN_MS);
      assert.deepEqual(gets, [200, 401]);
    } finally {
      await client.close();
    }
  });

  for (const [what, claims, refuse, description] of cases) {
    test(`ends the stream when ${what}, and leaves another user's open`, async () => {
      const ids: Ids = { sub: randomUUID(), client: randomUUID(), grant: randomUUID(), jti: randomUUID() };
      const token = await issuer.mint({ claims: { iat: now() - 5, ...claims(ids) } });
      const other = await issuer.mint({ claims: { iat: now() - 5, exp: now() + 3000 } });
      const stream = await openStream(server.mcpUrl, token, await openSession(server.mcpUrl, token));
      const otherStream = await openStream(server.mcpUrl, other, await openSession(server.mcpUrl, other));
      try {
        await refuse(ids);
        assert.ok(await endsInTime(stream), `the stream was still open ${ENDS_WITHIN_MS} ms after its token was refused`);
        assert.ok(otherStream.open, 'another user\'s stream is still open');

        const reopened = await mcpRequest(server.mcpUrl, { token, method: 'GET' });
        assert.equal(reopened.status, 401);
        const challenge = parseChallenge(reopened.headers.get('www-authenticate'));
        assert.equal(challenge.params.error, 'invalid_token');
        assert.match(challenge.params.error_description ?? '', description);
      } finally {
        stream.close();
        otherStream.close();
      }
    });
  }
});
