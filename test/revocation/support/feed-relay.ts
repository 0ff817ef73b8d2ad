/**
 * A plain HTTP relay in front of the auth-server's revocation feed, on its own port, that a test
 * can take down (the port is closed: connections are refused, as when the auth-server is down or
 * unreachable), make answer something that is not the feed (as a broken proxy in front of it
 * would), and bring back on the same port. Only the feed goes through it: the resource server
 * reads the JWKS directly, so an outage of the feed alone is what is tested.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What a broken feed answers instead of a page: status, content type, body. */
export type Imposter = [status: number, contentType: string, body: string];

export interface FeedRelay {
  /** The feed's URL through the relay (`resource_server.revocation.feed_uri`). */
  feedUri: string;
  /** performance.now() when the last feed page was fully sent (the resource server's last good poll). */
  readonly lastAnsweredAt: number;
  /** How many requests were answered by an imposter so far. */
  readonly imposterAnswers: number;
  down(): Promise<void>;
  /** Answers every request with `imposter` until up(). */
  impersonate(imposter: Imposter): void;
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startFeedRelay(issuer: string): Promise<FeedRelay> {
  let lastAnsweredAt = Number.NaN;
  let imposter: Imposter | undefined;
  let imposterAnswers = 0;
  const relay = (server: Server) => server.on('request', (req, res) => {
    if (imposter) {
      const [status, contentType, body] = imposter;
      res.once('finish', () => {
        imposterAnswers += 1;
      });
      res.writeHead(status, { 'content-type': contentType }).end(body);
      return;
    }
    fetch(new URL(req.url!, issuer), { headers: { accept: req.headers.accept ?? '*/*' } }).then(async (upstream) => {
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/octet-stream' });
      if (upstream.ok) {
        res.once('finish', () => {
          lastAnsweredAt = performance.now();
        });
      }
      res.end(Buffer.from(await upstream.arrayBuffer()));
    }, () => {
      res.writeHead(502).end();
    });
  });
  const listen = (server: Server, port: number) => new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
  let server: Server | undefined = relay(createServer());
  const port = await listen(server, 0);
  const stop = async () => {
    if (!server) return;
    const closing = server;
    server = undefined;
    closing.closeAllConnections();
    await new Promise((resolve) => closing.close(resolve));
  };
  return {
    feedUri: `http://127.0.0.1:${port}/oauth/revocations`,
    get lastAnsweredAt() {
      return lastAnsweredAt;
    },
    get imposterAnswers() {
      return imposterAnswers;
    },
    down: stop,
    impersonate(answer) {
      imposter = answer;
    },
    async up() {
      imposter = undefined;
      if (server) return;
      server = relay(createServer());
      await listen(server, port);
    },
    close: stop,
  };
}
