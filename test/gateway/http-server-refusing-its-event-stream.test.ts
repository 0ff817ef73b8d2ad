/**
 * An HTTP server that answers the GET for a session's event stream with an error status (not 405,
 * which says it has none) is warned of once an hour per server, the rest at debug, the warn line
 * saying how many refusals it stands for. Each client session has its own upstream session, and
 * each warned on its own connection: a server with no GET route (404) put a warn line in the log
 * per client session, and a busy gateway's log filled with them.
 *
 * The upstream is a scripted node:http server (a session id per initialize, GET answered 404);
 * first behind a real resource server with the MCP SDK client opening sessions, then behind the
 * gateway's HttpUpstream alone on a TestClock, moved past the hour (the resource server's own
 * clock cannot be moved that far without its revocation feed going stale). A server answering the
 * GET 200 with a web page is warned of the same way, as what it answered, not as a refusal.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { VerifiedAccessToken } from '../../apps/resource-server/src/auth/verify-access-token.ts';
import { HttpUpstream } from '../../apps/resource-server/src/gateway/http-upstream.ts';
import { createLogger } from '../../apps/shared/logger.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { connectAs, resultText, waitForServers } from './support/gateway-client.ts';
import { scriptedHttpUpstream } from './support/scripted-http-upstream.ts';
import { httpServer } from './support/upstreams.ts';

const REFUSED = /^an mcp server refused its event stream/;
const NOT_EVENTS = /^an mcp server answered the GET for its event stream with another content type than text\/event-stream/;

interface LogLine {
  level: number;
  msg: string;
  server?: string;
  status?: number;
  refusalsNotWarned?: number;
  contentType?: string;
  error?: string;
}

/**
 * A server answering every GET with `answerGet` (404 unless given), each initialize with a new
 * session; `refused` counts GETs by session.
 */
function refusingUpstream(answerGet: (res: ServerResponse) => void = (res) => void res.writeHead(404).end()) {
  const refused = new Map<string, number>();
  const server = scriptedHttpUpstream(({ what, message, session, res, answer }) => {
    switch (what) {
      case 'initialize':
        return answer({ result: { protocolVersion: message.params?.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'refusing', version: '1' } } }, { 'mcp-session-id': randomUUID() });
      case 'tools/list':
        return answer({ result: { tools: [{ name: 'hi', inputSchema: { type: 'object' } }] } });
      case 'tools/call':
        return answer({ result: { content: [{ type: 'text', text: 'hello' }] } });
      case 'GET':
        refused.set(session, (refused.get(session) ?? 0) + 1);
        return answerGet(res);
      case 'DELETE':
        return void res.writeHead(200).end();
      default:
        return void res.writeHead(202).end();
    }
  });
  return { server, refused };
}

async function listen(server: ReturnType<typeof refusingUpstream>['server']): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
}

async function stop(server: ReturnType<typeof refusingUpstream>['server']): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

/** A logger at debug level whose lines land in `lines`. */
function loggerInto(lines: LogLine[]) {
  return createLogger('resource-server', 'debug', { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
}

/** The caller of the sessions an HttpUpstream opens alone. */
const caller = { scopes: ['mcp:read'], extra: { subject: 'alice', tokenId: 'token' } } as unknown as VerifiedAccessToken;

/**
 * For the describe block it is called in: a real resource server in front of `upstream` as the
 * server `name`, logging at debug into `lines`. `callInNewSession` opens a client session with the
 * MCP SDK client and calls the server's tool there, which opens the session's upstream session.
 */
function behindResourceServer(name: string, upstream: ReturnType<typeof refusingUpstream>) {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  const lines: LogLine[] = [];
  const clients: Client[] = [];

  before(async () => {
    issuer = await startTestIssuer();
    const url = await listen(upstream.server);
    server = await startResourceServer({ issuer: issuer.issuer, logger: loggerInto(lines), config: { servers: [httpServer(name, url, { timeout: 5 })] } });
    await waitForServers(server.baseUrl, { [name]: 'ready' });
  });
  after(async () => {
    for (const client of clients) await client.close().catch(() => {});
    await server?.close();
    await stop(upstream.server);
    await issuer?.close();
  });

  return {
    lines,
    async callInNewSession(): Promise<void> {
      const { client } = await connectAs(server.mcpUrl, await issuer.mint());
      clients.push(client);
      assert.equal(resultText(await client.callTool({ name: `${name}__hi`, arguments: {} })), 'hello');
    },
  };
}

describe('an HTTP server refusing the event stream of every client session', { timeout: 60_000 }, () => {
  const SESSIONS = 4;
  const upstream = refusingUpstream();
  const { lines, callInNewSession } = behindResourceServer('refusing', upstream);

  test('is warned of once, each refusal after at debug', async () => {
    for (let i = 0; i < SESSIONS; i += 1) await callInNewSession();
    // One per client session, each GET retried a few times, and maybe the probe's at boot (its
    // session may end before its GET is sent).
    await waitFor(`GETs of ${SESSIONS} sessions refused`, () => upstream.refused.size >= SESSIONS);
    // Each connection's first refusal is logged, whatever the level (it was its own warn line).
    const logged = () => lines.filter((line) => line.server === 'refusing' && (line.status === 404 || /HTTP 404/.test(line.error ?? '')));
    await waitFor('a log line for each session\'s refusal', () => logged().length >= SESSIONS);
    const warnings = lines.filter((line) => line.server === 'refusing' && line.level >= 40);
    assert.deepEqual(warnings.map(({ msg, status }) => ({ refused: REFUSED.test(msg), status })), [{ refused: true, status: 404 }], JSON.stringify(warnings));
    assert.ok(logged().slice(1).every((line) => line.level === 20 && REFUSED.test(line.msg)), 'the later ones at debug');
  });
});

describe('an HTTP server refusing its event stream, an hour on', { timeout: 60_000 }, () => {
  const clock = new TestClock();
  const upstream = refusingUpstream();
  const lines: LogLine[] = [];
  let gateway: HttpUpstream;
  const refusalLines = () => lines.filter((line) => REFUSED.test(line.msg));
  const warnings = () => refusalLines().filter((line) => line.level === 40);

  before(async () => {
    const url = await listen(upstream.server);
    // Not started: no probe, only the sessions opened below.
    gateway = new HttpUpstream(httpServer('refusing', url, { timeout: 5 }), { logger: loggerInto(lines), onListChanged: () => {}, clock });
  });
  after(async () => {
    await gateway?.close();
    await stop(upstream.server);
  });

  test('the first refusal is a warn line; within the hour, another session\'s is at debug', async () => {
    await gateway.connectionFor({ sessionKey: 'first', caller });
    await waitFor('the warn line', () => warnings().length === 1);
    assert.equal(warnings()[0]!.refusalsNotWarned, undefined);
    const seen = refusalLines().length;
    await gateway.connectionFor({ sessionKey: 'second', caller });
    await waitFor('the second session\'s refusal', () => upstream.refused.size === 2 && refusalLines().length > seen);
    assert.equal(warnings().length, 1);
  });

  test('an hour on, the next refusal is a warn line counting those logged at debug since the last', async () => {
    clock.advance(3601);
    await gateway.connectionFor({ sessionKey: 'third', caller });
    await waitFor('the second warn line', () => warnings().length === 2);
    const all = refusalLines();
    const between = all.slice(all.indexOf(warnings()[0]!) + 1, all.indexOf(warnings()[1]!));
    assert.ok(between.length > 0 && between.every((line) => line.level === 20), JSON.stringify(between));
    assert.equal(warnings()[1]!.refusalsNotWarned, between.length);
  });
});

// A server that serves a web page on GET (a framework's default route) answers 200: nothing was
// refused, and a line saying "refused … status 200" sent the operator looking for an error that
// is not there. The line says what it answered instead.
describe('an HTTP server answering its event stream with a web page', { timeout: 60_000 }, () => {
  const upstream = refusingUpstream((res) => void res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><p>hello</p>'));
  const { lines, callInNewSession } = behindResourceServer('paged', upstream);

  test('is warned of once as answered with its content type, not as refused; the rest at debug', async () => {
    for (let i = 0; i < 2; i += 1) await callInNewSession();
    await waitFor('GETs of 2 sessions answered', () => upstream.refused.size >= 2);
    const logged = () => lines.filter((line) => line.server === 'paged' && line.status === 200);
    await waitFor('a log line for each session\'s GET', () => logged().length >= 2);
    const warnings = lines.filter((line) => line.server === 'paged' && line.level >= 40);
    assert.deepEqual(
      warnings.map(({ msg, status, contentType }) => ({ notEvents: NOT_EVENTS.test(msg), status, contentType })),
      [{ notEvents: true, status: 200, contentType: 'text/html; charset=utf-8' }],
      JSON.stringify(warnings),
    );
    assert.ok(logged().slice(1).every((line) => line.level === 20 && NOT_EVENTS.test(line.msg)), 'the later ones at debug');
    assert.ok(lines.every((line) => !REFUSED.test(line.msg)), 'nothing says it was refused');
  });
});

// Which warn line each answer to the GET gets, by status and content type. A 2xx of another
// status than 200 with an event stream's content type was logged as "another content type than
// text/event-stream"; a media type is case-insensitive (RFC 9110 §8.3.1).
const NOT_200 = /^an mcp server answered the GET for its event stream with a success status other than 200/;
describe('the warn line for each answer to the GET that is no stream', { timeout: 60_000 }, () => {
  const cases: Array<[status: number, contentType: string, what: string, message: RegExp]> = [
    [201, 'text/event-stream', 'another success status than 200', NOT_200],
    [204, 'Text/Event-Stream; charset=utf-8', 'another success status than 200', NOT_200],
    [200, 'text/html', 'another content type', NOT_EVENTS],
    [202, 'application/json', 'another content type', NOT_EVENTS],
    [404, 'text/event-stream', 'refused', REFUSED],
  ];
  for (const [status, contentType, what, message] of cases) {
    test(`${status} ${contentType} is warned of as ${what}`, async () => {
      const upstream = refusingUpstream((res) => void res.writeHead(status, { 'content-type': contentType }).end());
      const lines: LogLine[] = [];
      const gateway = new HttpUpstream(httpServer('odd', await listen(upstream.server), { timeout: 5 }), { logger: loggerInto(lines), onListChanged: () => {} });
      try {
        await gateway.connectionFor({ sessionKey: 'one', caller });
        await waitFor('the warn line', () => lines.some((line) => line.level === 40));
        const warning = lines.find((line) => line.level === 40)!;
        assert.match(warning.msg, message);
        assert.equal(warning.status, status);
      } finally {
        await gateway.close();
        await stop(upstream.server);
      }
    });
  }
});
