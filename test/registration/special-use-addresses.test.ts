/**
 * Which addresses a fetch for a client (its metadata document, its jwks_uri) may reach: every
 * special-use range refused, in every spelling an address can take once parsed, and public
 * addresses allowed. Table-driven: each row an address as a socket or a URL host gives it. And
 * the fetch itself, where a redirect is followed (oidc-provider fetches a jwks_uri that way): an
 * IP literal in the redirect is refused before any connection is opened to it.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createMetadataFetch } from '../../apps/auth-server/src/cimd/create-metadata-fetch.ts';
import { isSpecialUseAddress } from '../../apps/auth-server/src/cimd/special-use-addresses.ts';
import { startConnectionCounter, type ConnectionCounter } from '../helpers/net.ts';

describe('special-use addresses', () => {
  const refused: Array<[string, string]> = [
    ['IPv4 loopback', '127.0.0.1'],
    ['IPv4 loopback, another of the /8', '127.1.2.3'],
    ['cloud metadata (link-local)', '169.254.169.254'],
    ['private 10/8', '10.0.0.1'],
    ['private 192.168/16', '192.168.1.1'],
    ['CGNAT', '100.64.0.1'],
    ['this network', '0.0.0.0'],
    ['IPv6 unspecified', '::'],
    ['IPv6 loopback', '::1'],
    ['IPv6 loopback, bracketed as in a URL', '[::1]'],
    ['IPv4-mapped loopback, dotted', '::ffff:127.0.0.1'],
    ['IPv4-mapped private, hex', '::ffff:a00:1'],
    ['IPv4-compatible loopback (deprecated form)', '::7f00:1'],
    ['IPv4-compatible metadata address', '::a9fe:a9fe'],
    ['IPv4-translated loopback', '::ffff:0:7f00:1'],
    ['IPv4-translated private', '::ffff:0:a00:1'],
    ['NAT64 of a private address', '64:ff9b::a00:1'],
    ['unique local', 'fd00::1'],
    ['IPv6 link-local', 'fe80::1'],
    ['not an address at all', 'localhost'],
  ];
  for (const [what, address] of refused) {
    test(`refuses ${what}: ${address}`, () => assert.equal(isSpecialUseAddress(address), true));
  }

  const allowed: Array<[string, string]> = [
    ['a public IPv4 address', '93.184.215.14'],
    ['a public IPv6 address', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'],
    ['a public IPv4 address, IPv4-mapped', '::ffff:93.184.215.14'],
  ];
  for (const [what, address] of allowed) {
    test(`allows ${what}: ${address}`, () => assert.equal(isSpecialUseAddress(address), false));
  }

  test('loopback only when tests allow it: 127.0.0.0/8 and ::1, never the other spellings', () => {
    assert.equal(isSpecialUseAddress('127.0.0.1', true), false);
    assert.equal(isSpecialUseAddress('::1', true), false);
    assert.equal(isSpecialUseAddress('::7f00:1', true), true);
    assert.equal(isSpecialUseAddress('::ffff:127.0.0.1', true), true);
    assert.equal(isSpecialUseAddress('[::ffff:7f00:1]', true), true);
    assert.equal(isSpecialUseAddress('10.0.0.1', true), true);
  });
});

describe('the fetch for a client\'s documents, led by a redirect to a special-use address', () => {
  let server: Server;
  let origin: string;
  let internal: ConnectionCounter;

  before(async () => {
    internal = await startConnectionCounter();
    server = createServer((req, res) => {
      // IPv4-mapped loopback: special-use even where tests allow 127.0.0.1, and it reaches the counter.
      const scheme = req.url === '/jwks-https' ? 'https' : 'http';
      res.writeHead(302, { location: `${scheme}://[::ffff:127.0.0.1]:${internal.port}/internal` }).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.close();
    await internal.close();
  });

  // The provider follows a jwks_uri's redirects; a handshake alone would tell whether the port is open.
  for (const scheme of ['http', 'https']) {
    test(`is refused before connecting, to an ${scheme} URL: the address it was sent to sees no connection`, async () => {
      const fetchClientDocument = createMetadataFetch({ dangerouslyAllowLoopback: true });
      await assert.rejects(fetchClientDocument(`${origin}/jwks-${scheme}`), (err: Error & { cause?: { code?: string } }) => {
        assert.equal(err.cause?.code, 'ERR_SPECIAL_USE_ADDRESS', String(err.cause ?? err));
        return true;
      });
      assert.equal(await internal.connectionsSoFar(), 0);
    });
  }
});
