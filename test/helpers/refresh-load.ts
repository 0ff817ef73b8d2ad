/**
 * Token load for crash tests: chains of one client, each refreshing its own token and then
 * registering a new client, over and over, remembering only what the server acknowledged. After
 * a crash, `assertAcknowledgedSurvived` checks that nothing acknowledged was lost: every chain's
 * last refresh token from a 200 still refreshes, every client from a 201 still exists.
 *
 * A request the crash cut (no answer, or a 5xx from a balancer) leaves its chain in doubt: the
 * token it sent may have been consumed, as on any lost connection, and OAuth 2.1 §4.3.1 leaves
 * such a client to sign in again. That chain stops and is not checked.
 */
import assert from 'node:assert/strict';
import { refresh, tokenRequest, type RegisteredClient } from './oauth-flow.ts';

export interface LoadChain {
  /** The refresh token of the chain's last 200 answer; undefined once the chain is in doubt. */
  acknowledged: string | undefined;
  /** Set by `stop`: the chain sends nothing after its current request. */
  stopped: boolean;
  /** Settles when the chain's loop has ended. */
  done: Promise<void>;
}

export interface RefreshLoad {
  chains: LoadChain[];
  /** client_ids of the registrations answered 201. */
  registered: string[];
  /** How many chains a crash left in doubt. */
  inDoubt(): number;
  /** Stops the chains at `indexes` (default: all) after their current request; resolves when they have. */
  stop(indexes?: number[]): Promise<void>;
}

/** Starts one chain per refresh token in `refreshTokens`, all against `issuer`. */
export function startRefreshLoad(issuer: string, client: RegisteredClient, refreshTokens: string[], redirectUri: string): RefreshLoad {
  const registered: string[] = [];
  const chains: LoadChain[] = refreshTokens.map((token) => ({ acknowledged: token, stopped: false, done: Promise.resolve() }));
  chains.forEach((chain, i) => {
    chain.done = (async () => {
      while (!chain.stopped && chain.acknowledged) {
        const response = await refresh(issuer, client, chain.acknowledged).catch(() => undefined);
        if (response?.status === 200) {
          chain.acknowledged = response.body.refresh_token as string;
        } else {
          assert.ok(!response || response.status >= 500, `only a request cut by the crash may fail: ${JSON.stringify(response?.body)}`);
          chain.acknowledged = undefined;
        }
        const registration = await fetch(`${issuer}/oauth/register`, {
          method: 'POST', headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ client_name: `load ${i}`, redirect_uris: [redirectUri], token_endpoint_auth_method: 'none' }),
        }).catch(() => undefined);
        if (registration?.status === 201) registered.push(((await registration.json()) as { client_id: string }).client_id);
      }
    })();
  });
  return {
    chains,
    registered,
    inDoubt: () => chains.filter((chain) => !chain.acknowledged).length,
    async stop(indexes = chains.map((_chain, i) => i)) {
      for (const i of indexes) chains[i]!.stopped = true;
      await Promise.all(indexes.map((i) => chains[i]!.done));
    },
  };
}

/** Every acknowledged refresh token still refreshes at `url`, and every acknowledged registration exists there. */
export async function assertAcknowledgedSurvived(url: string, client: RegisteredClient, load: RefreshLoad): Promise<void> {
  assert.ok(load.chains.some((chain) => chain.acknowledged), `some chains outlived the crash to be checked (${load.inDoubt()} of ${load.chains.length} were cut)`);
  for (const chain of load.chains) {
    if (!chain.acknowledged) continue;
    const response = await refresh(url, client, chain.acknowledged);
    assert.equal(response.status, 200, `an acknowledged refresh token works after the crash: ${JSON.stringify(response.body)}`);
  }
  const clientError = async (clientId: string) => (await tokenRequest(url, { grant_type: 'refresh_token', refresh_token: 'x', client_id: clientId })).body.error;
  assert.equal(await clientError('never-registered'), 'invalid_client', 'an unknown client is refused as such');
  for (const clientId of load.registered) {
    assert.notEqual(await clientError(clientId), 'invalid_client', `acknowledged registration ${clientId} exists`);
  }
}
