/**
 * Two auth-server replicas' key handling on one PostgreSQL database: each builds its real
 * oidc-provider through a ProviderHolder over its own connection pool and key store, as
 * createAuthServer does, and serves it over HTTP. They publish one JWKS, a token either signs
 * verifies with the other's keys, and a rotation or retirement made on one reaches the other
 * within its reload interval. (The provider here is a plain one issuing client-credentials JWTs:
 * the full server's flows are covered on SQLite by the other suites.)
 */
import assert from 'node:assert/strict';
import { createSecretKey, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import Koa from 'koa';
import Provider from 'oidc-provider';
import { createLogger } from '../../apps/shared/logger.ts';
import { openDatabase } from '../../apps/shared/storage/open-database.ts';
import type { SqlDatabase } from '../../apps/shared/storage/sql-database.ts';
import type { KeyStore } from '../../apps/auth-server/src/keys/key-store.ts';
import { loadStartingKeys, openKeyStore } from '../../apps/auth-server/src/keys/open-key-store.ts';
import { toProviderJwks, type StoredKey } from '../../apps/auth-server/src/keys/signing-keys.ts';
import { ProviderHolder } from '../../apps/auth-server/src/provider/provider-holder.ts';
import { createTestPostgresDatabase, TEST_BACKENDS } from '../helpers/test-database.ts';
import { waitFor } from '../helpers/wait-for.ts';

const ISSUER = 'https://auth.gatehouse.test';
const RESOURCE = 'https://mcp.gatehouse.test/mcp';
const CLIENT = { client_id: 'replica-test', client_secret: 'a-client-secret-long-enough-for-the-test' };
/** Seconds: short, so the test waits for the real poll instead of calling reload() itself. */
const RELOAD_INTERVAL = 0.2;

function buildProvider(keys: StoredKey[]): Provider {
  return new Provider(ISSUER, {
    jwks: toProviderJwks(keys),
    clients: [{ ...CLIENT, grant_types: ['client_credentials'], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_post' }],
    scopes: ['mcp:read'],
    features: {
      clientCredentials: { enabled: true },
      devInteractions: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({ scope: 'mcp:read', audience: RESOURCE, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }),
      },
    },
  });
}

interface Replica {
  url: string;
  store: KeyStore;
  holder: ProviderHolder;
  cookieKeys: string[];
  close(): Promise<void>;
}

async function startReplica(databaseUrl: string, keyEncryptionKey = createSecretKey(KEK)): Promise<Replica> {
  const database: SqlDatabase = await openDatabase({ sqliteFile: join(tmpdir(), 'unused.db'), postgres: { url: databaseUrl, maxConnections: 3 } }, 'auth-server');
  const store = openKeyStore({ keysDir: join(tmpdir(), 'unused-keys'), keyEncryptionKey }, database);
  const { signingKeys, cookieKeys } = await loadStartingKeys(store);
  const holder = new ProviderHolder(buildProvider, signingKeys, store, createLogger('auth-server', 'silent'));
  const stopWatching = holder.watch(RELOAD_INTERVAL);
  const app = new Koa({ keys: cookieKeys });
  app.use(holder.middleware);
  const server: Server = createServer(app.callback()).listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    store,
    holder,
    cookieKeys,
    async close() {
      stopWatching();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await database.close();
    },
  };
}

const KEK = randomBytes(32);

async function jwks(replica: Replica): Promise<JSONWebKeySet> {
  return (await fetch(`${replica.url}/jwks`)).json() as Promise<JSONWebKeySet>;
}

async function accessToken(replica: Replica): Promise<string> {
  const response = await fetch(`${replica.url}/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'mcp:read', resource: RESOURCE, ...CLIENT }),
  });
  const body = await response.json() as { access_token?: string };
  assert.equal(response.status, 200, JSON.stringify(body));
  return body.access_token!;
}

const kids = (set: JSONWebKeySet) => set.keys.map((k) => k.kid!).sort();

describe('keys shared by replicas on PostgreSQL', { skip: !TEST_BACKENDS.includes('postgres') && 'GATEHOUSE_TEST_BACKENDS excludes postgres' }, () => {
  let a: Replica;
  let b: Replica;
  before(async () => {
    const databaseUrl = await createTestPostgresDatabase();
    [a, b] = await Promise.all([startReplica(databaseUrl), startReplica(databaseUrl)]);
  });
  after(async () => {
    await a?.close();
    await b?.close();
  });

  test('two replicas started together publish the same JWKS and sign cookies with the same keys', async () => {
    const [fromA, fromB] = [await jwks(a), await jwks(b)];
    assert.equal(fromA.keys.length, 2, 'the active and the next key');
    assert.deepEqual(fromB, fromA);
    assert.deepEqual(b.cookieKeys, a.cookieKeys);
  });

  test('a token signed by one replica verifies with the other replica\'s JWKS', async () => {
    const token = await accessToken(a);
    assert.equal(decodeProtectedHeader(token).kid, a.holder.signingKey.jwk.kid, 'signed with the active key');
    const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(`${b.url}/jwks`)), { issuer: ISSUER, audience: RESOURCE });
    assert.equal(payload.client_id, CLIENT.client_id);
  });

  test('a rotation on one replica is used by the other for signing after its reload interval; so is a retirement', async () => {
    const before = a.holder.signingKey.jwk.kid;
    const rotated = await a.store.rotateSigningKeys();
    await a.holder.reload();
    const promoted = rotated[0]!.jwk.kid;
    assert.notEqual(promoted, before);
    assert.equal(decodeProtectedHeader(await accessToken(a)).kid, promoted, 'the replica that rotated signs with the promoted key at once');

    await waitFor('replica B to sign with the promoted key', async () => decodeProtectedHeader(await accessToken(b)).kid === promoted);
    assert.deepEqual(kids(await jwks(b)), kids(await jwks(a)), 'both publish the new next key too');
    const fromB = await accessToken(b);
    await jwtVerify(fromB, createRemoteJWKSet(new URL(`${a.url}/jwks`)), { issuer: ISSUER, audience: RESOURCE });

    assert.equal(await a.store.removeRetiringKey(before), true);
    await a.holder.reload();
    await waitFor('replica B to stop publishing the retired key', async () => !kids(await jwks(b)).includes(before));
    assert.deepEqual(kids(await jwks(b)), kids(await jwks(a)));
  });
});
