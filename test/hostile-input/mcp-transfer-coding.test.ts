/**
 * A POST to the MCP endpoint whose body has a transfer coding besides chunked
 * (`Transfer-Encoding: gzip, chunked`) is refused with 400 and nothing runs: Node takes the chunks
 * apart and hands on what they hold without decoding them, so a plain initialize labelled gzip
 * opened a session, while a proxy in front that decodes by the label saw something else. The
 * auth-server's twin is in auth-server-content-encoding.test.ts; chunked alone is served.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { INITIALIZE } from '../helpers/mcp-http.ts';
import { rawBytes } from '../helpers/raw-http.ts';
import { useIssuerAndServer } from '../helpers/start-resource-server.ts';

describe('transfer codings besides chunked on MCP bodies', () => {
  const running = useIssuerAndServer();

  /** One chunked POST of an initialize on its own connection, exactly as written. */
  async function chunkedInitialize(path: string, codings: string) {
    const body = Buffer.from(JSON.stringify(INITIALIZE));
    const head = [
      `POST ${path} HTTP/1.1`, `Host: ${new URL(running.server.baseUrl).host}`, 'Content-Type: application/json',
      'Accept: application/json, text/event-stream', `Authorization: Bearer ${await running.issuer.mint()}`,
      `Transfer-Encoding: ${codings}`, 'Connection: close',
    ].join('\r\n');
    return rawBytes(running.server.baseUrl, `${head}\r\n\r\n${body.length.toString(16)}\r\n${body.toString('latin1')}\r\n0\r\n\r\n`);
  }

  const refused: Array<[string, string]> = [
    ['/mcp', 'gzip, chunked'],
    ['/mcp', 'deflate,chunked'],
    ['/MCP/', 'x-custom, chunked'],
    ['/mcp', 'GZIP, identity, chunked'],
    ['/', 'br, chunked'],
  ];
  for (const [path, codings] of refused) {
    test(`an initialize at ${path} sent with Transfer-Encoding: ${codings} is refused with 400, opening no session`, async () => {
      const answer = await chunkedInitialize(path, codings);
      assert.equal(answer.status, 400, answer.text.slice(0, 600));
      assert.doesNotMatch(answer.text, /mcp-session-id/i);
      assert.match(answer.text, /"error":\{"code":-32000,"message":"Bad Request: the body must be sent with no transfer coding but chunked"\}/);
      assert.match(answer.text, /connection: close/i, 'the unread body is not left on a kept-alive connection');
    });
  }

  for (const codings of ['chunked', 'identity, chunked']) {
    test(`an initialize sent with Transfer-Encoding: ${codings} is served`, async () => {
      const answer = await chunkedInitialize('/mcp', codings);
      assert.equal(answer.status, 200, answer.text.slice(0, 600));
      assert.match(answer.text, /mcp-session-id: \S+/i);
    });
  }
});
