/**
 * A Client ID Metadata Document's host decides how much it sends, and anyone can name any host
 * in a `client_id`. What a user would check: an authorization request whose document is huge,
 * or never ends, is refused on the error page, and Gatehouse stops reading the body after its
 * cap (16 KiB, client-document-cache.ts) instead of taking in the whole stream: the provider's
 * own 5 KiB check comes only after the body was read, and its 2.5 s timeout only after a slow
 * host has sent whatever it likes, for every such request at once.
 *
 * The document host here streams a JSON-looking body as fast as Gatehouse reads it, up to
 * 1 MiB, and then keeps the response open without ever ending it. Counted: the bytes it had
 * written when Gatehouse closed the connection.
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { Browser } from '../helpers/browser.ts';
import { startDocumentServer, type DocumentServer } from '../helpers/document-server.ts';
import { startMetadataServer } from '../helpers/net.ts';
import { authorizeUrl } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { waitFor } from '../helpers/wait-for.ts';

const STREAMED = 1024 * 1024;
const CHUNK = 4096;
/** Well over the 16 KiB cap, well under the 1 MiB streamed: room for what sits in socket buffers. */
const READ_AT_MOST = 256 * 1024;

describe('a Client ID Metadata Document that never ends', () => {
  let docs: DocumentServer;
  let metadata: { server: Server; resource: string };
  let server: TestAuthServer;

  before(async () => {
    docs = await startDocumentServer();
    let issuer = '';
    metadata = await startMetadataServer(() => issuer);
    server = await startAuthServer({
      env: { RESOURCE_URL: metadata.resource },
      metadataFetch: { dangerouslyAllowLoopback: true, ca: docs.ca },
      configure(config) {
        config.authServer.clientIdMetadataDocuments.trustedHosts = [new URL(docs.origin).host];
      },
    });
    issuer = server.issuer;
  });
  after(async () => {
    await server?.close();
    await docs?.close();
    metadata?.server.close();
  });

  test('is refused on the error page, and read no further than the cap', async () => {
    const path = '/endless.json';
    const clientId = `${docs.origin}${path}`;
    let written = 0;
    let closed = false;
    docs.handle(path, (_req, res) => {
      res.on('close', () => {
        closed = true;
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      // Each chunk only once the one before was taken (backpressure), so what was written is
      // what Gatehouse read, plus what the socket buffers hold.
      const prefix = `{"client_id":${JSON.stringify(clientId)},"redirect_uris":["http://localhost/callback"],"x_padding":"`;
      const more = () => {
        while (!closed && written < STREAMED) {
          const chunk = written === 0 ? prefix + 'x'.repeat(CHUNK - prefix.length) : 'x'.repeat(CHUNK);
          written += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', more);
            return;
          }
        }
        // Past 1 MiB: held open, never ended.
      };
      more();
    });

    const browser = new Browser(server.issuer);
    const page = await browser.navigate(authorizeUrl(server.issuer, {
      clientId, redirectUri: 'http://localhost:49152/callback', scope: 'mcp:read', resource: metadata.resource,
    }, createPkce().challenge));

    assert.equal(page.status, 400, `refused: status ${page.status}`);
    assert.equal(page.headers.get('location'), null, 'never redirected');
    assert.match(page.html, /This request cannot continue/);
    assert.doesNotMatch(page.html, /name="password"/, 'no sign-in page');
    assert.equal(docs.hits.get(path), 1, 'the document was fetched');
    await waitFor('Gatehouse to close the document connection', () => closed, 5000, 10);
    assert.ok(written < READ_AT_MOST, `stopped reading early: the host had written ${written} bytes of ${STREAMED} when Gatehouse closed the connection`);
  });
});
