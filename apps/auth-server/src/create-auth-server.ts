/**
 * Builds the auth-server from its configuration: database and migrations, keys, users, the
 * oidc-provider instance and the Koa app around it. `main.ts` only calls this and listens; tests
 * call it with their own config on an ephemeral port.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Router from '@koa/router';
import Koa from 'koa';
import mount from 'koa-mount';
import type Provider from 'oidc-provider';
import { MCP_SCOPES, type AuthServerConfig } from '../../shared/config.ts';
import { MIGRATIONS_ROOT, migrate, openDatabase, type Db } from '../../shared/database.ts';
import type { Logger } from '../../shared/logger.ts';
import { applyConfiguredUsers, createBootstrapAdmin } from './accounts/apply-configured-users.ts';
import { PasswordHasher } from './accounts/password-hasher.ts';
import { SignInThrottle } from './accounts/sign-in-throttle.ts';
import { UserStore } from './accounts/user-store.ts';
import { createMetadataFetch, metadataFetchScope, type MetadataFetchOptions } from './cimd/create-metadata-fetch.ts';
import { createDocumentHostPolicy } from './cimd/document-host-policy.ts';
import { FederatedAccounts } from './federation/federated-accounts.ts';
import { federatedSignInRoutes } from './federation/federated-sign-in-routes.ts';
import { UpstreamClients } from './federation/upstream-clients.ts';
import { createCsrf } from './http/csrf.ts';
import { errorPages, providerErrorRenderer } from './http/error-pages.ts';
import { prepareOAuthRequest } from './http/prepare-oauth-request.ts';
import { registrationCors } from './http/registration-cors.ts';
import { securityHeaders } from './http/security-headers.ts';
import { interactionRoutes } from './interactions/interaction-routes.ts';
import { loadOrCreateCookieKeys, loadOrCreateSigningKeys, toProviderJwks } from './keys/signing-keys.ts';
import { createProvider, type ProviderDeps } from './provider/create-provider.ts';
import { startSweeper, sweepExpired } from './provider/sweep-expired.ts';
import { expireUnusedClients } from './registration/expire-unused-clients.ts';
import { createRenderer, VIEWS_DIR } from './views/create-renderer.ts';

export interface AuthServer {
  app: Koa;
  provider: Provider;
  db: Db;
  users: UserStore;
  hasher: PasswordHasher;
  /** Set when this start created the first admin with a generated password (show it once). */
  bootstrap?: { username: string; generatedPassword?: string };
  close(): Promise<void>;
}

const STYLESHEET = readFileSync(join(VIEWS_DIR, 'static', 'gatehouse.css'));

export interface AuthServerOptions {
  /** Replaces the SQLite adapter for the provider's models (benchmarks compare against memory). */
  adapter?: ProviderDeps['adapter'];
  /** Test-only: let Client ID Metadata Documents come from 127.0.0.1 with a test CA. */
  metadataFetch?: MetadataFetchOptions;
}

export async function createAuthServer(config: AuthServerConfig, logger: Logger, options: AuthServerOptions = {}): Promise<AuthServer> {
  const db = openDatabase(config.databaseFile);
  migrate(db, join(MIGRATIONS_ROOT, 'auth-server'));

  const { keys, created } = await loadOrCreateSigningKeys(config.keysDir);
  if (created) logger.warn({ keysDir: config.keysDir }, 'no signing key found: generated a new RS256 key');
  const cookieKeys = loadOrCreateCookieKeys(config.keysDir);

  const users = new UserStore(db);
  const hasher = new PasswordHasher(config.bcryptCost);
  await applyConfiguredUsers(config, users, hasher);
  const bootstrap = await createBootstrapAdmin(config, users, hasher);

  const https = config.issuer.startsWith('https:');
  const render = createRenderer(config.issuer);
  const allowed = new Set(config.registration.allowedRedirectUris);
  const documentHostPolicy = createDocumentHostPolicy(
    config.clientIdMetadataDocuments,
    undefined,
    options.metadataFetch?.dangerouslyAllowLoopback,
  );
  const provider = createProvider({
    config,
    db,
    users,
    jwks: toProviderJwks(keys),
    cookieKeys,
    redirectUriPolicy: { allowedRedirectUris: () => allowed, allowPrivateUseSchemes: config.registration.allowPrivateUseSchemes },
    renderError: providerErrorRenderer(render, logger),
    adapter: options.adapter,
    documentHostPolicy,
    metadataFetch: createMetadataFetch(options.metadataFetch),
  });
  provider.on('server_error', (_ctx, err) => logger.error({ err }, 'oidc-provider server error'));
  expireUnusedClients(provider, db, config.registration.unusedClientTtl);
  const throttle = new SignInThrottle(db, config.signInThrottle);
  const sweepFederatedLogins = db.prepare('DELETE FROM federated_logins WHERE expires_at <= unixepoch()');
  const stopSweeper = startSweeper(
    [() => sweepExpired(db), () => throttle.prune(), () => sweepFederatedLogins.run()],
    60_000,
    (err) => logger.error({ err }, 'sweeper failed'),
  );

  // Behind a TLS-terminating proxy, client IPs and the external scheme come from X-Forwarded-*.
  provider.proxy = config.trustProxy;
  const app = new Koa({ keys: cookieKeys, proxy: config.trustProxy });
  const csrf = createCsrf({ key: cookieKeys[0]!, secure: https });
  const router = new Router();
  router.get('/healthz', function healthz(ctx) {
    ctx.body = { status: 'ok' };
  });
  router.get('/static/gatehouse.css', function stylesheet(ctx) {
    ctx.type = 'text/css';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = STYLESHEET;
  });

  app.use(securityHeaders({ https }));
  app.use(errorPages(render, logger));
  app.use(router.routes());
  const upstreams = new UpstreamClients(config.upstreams);
  app.use(interactionRoutes({
    provider, users, hasher, throttle, csrf, render, documentHostPolicy,
    resourceScopes: MCP_SCOPES,
    mode: config.mode,
    upstreams: upstreams.list().map(({ id, displayName }) => ({ id, displayName })),
  }).routes());
  if (upstreams.list().length > 0) {
    const accounts = new FederatedAccounts(db, users);
    app.use(federatedSignInRoutes({ provider, db, issuer: config.issuer, upstreams, accounts, csrf, logger }).routes());
  }
  app.use(registrationCors);
  app.use(prepareOAuthRequest({
    resource: config.resource,
    defaultScopes: config.defaultScopes,
    registrationBodyLimit: config.registration.maxBodyBytes,
  }));
  app.use(metadataFetchScope);
  app.use(mount(provider));

  return {
    app,
    provider,
    db,
    users,
    hasher,
    bootstrap,
    async close() {
      stopSweeper();
      await hasher.close();
      db.close();
    },
  };
}
