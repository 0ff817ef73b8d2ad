/**
 * A key retired on purpose (`gatehouse keys retire --force`, it leaked) stays refused at the
 * resource server after its feed entry has expired. The entry makes the resource server reload
 * the key set at once, and at that moment the auth-server may still publish the key: another
 * replica, or a server that notices the CLI's change within `signing.reload_interval`. That copy
 * stays fresh for the JWKS cache time (10 minutes), longer than the entry (the token lifetime plus
 * a minute) when the token lifetime is short, so tokens forged with the leaked key after the entry
 * expired would verify. A real resource server against the test issuer, its clock moved past the
 * entry instead of waiting.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestIssuer } from '../helpers/test-issuer.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { mcpRequest } from '../helpers/mcp-http.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { waitFor } from '../helpers/wait-for.ts';

async function status(server: RunningResourceServer, token: string): Promise<number> {
  const response = await mcpRequest(server.mcpUrl, { token });
  await response.arrayBuffer();
  return response.status;
}

describe('a retired signing key at the MCP endpoint', () => {
  test('tokens forged with it after its feed entry expired are refused, though the key set reloaded for the entry still listed it', async () => {
    const clock = TestClock.ahead(0);
    const issuer = await startTestIssuer();
    const server = await startResourceServer({ issuer: issuer.issuer, clock });
    try {
      const leaked = { kid: issuer.kid, key: issuer.privateKey };
      const forge = () => {
        const now = clock.epochSeconds();
        return issuer.mint({ claims: { iat: now, exp: now + 300 }, header: { kid: leaked.kid }, key: leaked.key });
      };
      const jwksFetches = () => issuer.requests.filter((path) => path === '/oauth/jwks').length;
      assert.equal(await status(server, await forge()), 200, 'the key signs accepted tokens before it is retired');

      let fetched = jwksFetches();
      await issuer.rotateKey();
      await waitFor('the key set reloaded after the rotation', () => jwksFetches() > fetched, 5000);
      fetched = jwksFetches();
      issuer.revoke('kid', leaked.kid, clock.epochSeconds());
      await waitFor('the retired key\'s tokens are refused', async () => (await status(server, await forge())) === 401, 5000);
      await waitFor('the key set reloaded for the retirement, while the issuer still published the key', () => jwksFetches() > fetched, 5000);
      issuer.unpublishKey(leaked.kid);

      // Past the entry's expires_at (issued_before + 3600 in the test issuer's feed).
      clock.advance(3600 + 120);
      const polls = issuer.feedPolls;
      await waitFor('syncs of the feed that started after the clock moved', () => issuer.feedPolls >= polls + 3, 5000);
      const forged = await forge();
      assert.equal(await status(server, forged), 401, 'a token forged with the retired key after its entry expired is refused');
    } finally {
      await server.close();
      await issuer.close();
    }
  });
});
