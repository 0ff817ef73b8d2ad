/**
 * Builds the auth-server from its configuration: database and migrations, keys, users, the
 * oidc-provider instance and the Koa app around it. `main.ts` only calls this and listens; tests
 * call it with their own config on an ephemeral port.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Router from '@koa/router';
import Koa from 'koa';
import type Provider from 'oidc-provider';
import { systemClock, type Clock } from '../../shared/clock.ts';
import type { AuthServerConfig } from '../../shared/config/load-config.ts';
import { MCP_SCOPES, OIDC_SCOPES } from '../../shared/mcp-scopes.ts';
import { openDatabase } from '../../shared/storage/open-database.ts';
import type { SqlDatabase } from '../../shared/storage/sql-database.ts';
import { healthRoutes } from '../../shared/health-routes.ts';
import type { Logger } from '../../shared/logger.ts';
import { createMetricsRegistry, type Registry } from '../../shared/metrics.ts';
import { answerMethodNotAllowed, type KnownRoute } from '../../shared/answer-method-not-allowed.ts';
import { logBackgroundFailure } from '../../shared/log-background-failure.ts';
import { logAppErrors } from '../../shared/log-app-errors.ts';
import { observeRequests, type RequestIdState } from '../../shared/observe-requests.ts';
import { rejectMalformedHost } from '../../shared/reject-malformed-host.ts';
import { sayWhenToRetry } from '../../shared/say-when-to-retry.ts';
import { applyConfiguredUsers } from './accounts/apply-configured-users.ts';
import { FirstAdminPasswordFile } from './accounts/first-admin-password-file.ts';
import { prepareBootstrapAdmin, storeBootstrapAdmin, unusedBootstrapAdmin, type BootstrapAdmin } from './accounts/bootstrap-admin.ts';
import { homePage } from './web/home-page.ts';
import { pageRoutes } from './web/page-routes.ts';
import { CONFIG_FILE } from './management/admin-actor.ts';
import { createAdminServices, type AdminServices } from './management/admin-services.ts';
import { AllowListSnapshot } from './management/allow-list-snapshot.ts';
import { createPageSession } from './web/page-session.ts';
import { GatewayStatus } from './web/admin/gateway-status.ts';
import { validateWithProvider } from './management/client-registry.ts';
import { cutEchoedScope } from './provider/cut-echoed-scope.ts';
import { trackClientUsage } from './provider/client-usage.ts';
import { ProviderHolder } from './provider/provider-holder.ts';
import { PasswordHasher, type PasswordHasherOptions } from './accounts/password-hasher.ts';
import { SignInThrottle } from './accounts/sign-in-throttle.ts';
import { UserStore } from './accounts/user-store.ts';
import { AuditLog } from './audit/audit-log.ts';
import { recordProviderEvents } from './audit/record-provider-events.ts';
import { createSignInRecorder, type SignInRecorder } from './audit/record-sign-in.ts';
import { createClientDocumentCache } from './cimd/client-document-cache.ts';
import { createMetadataFetch, type MetadataFetchOptions } from './cimd/create-metadata-fetch.ts';
import { createDocumentHostPolicy } from './cimd/document-host-policy.ts';
import { holdErrorRedirects, markUntrustedDocumentClients } from './cimd/hold-error-redirects.ts';
import { FederatedAccounts } from './federation/federated-accounts.ts';
import { warnOfRetiredUpstreams } from './federation/warn-of-retired-upstreams.ts';
import { FederatedLogins } from './federation/federated-logins.ts';
import { IdJagReplays } from './id-jag/id-jag-replays.ts';
import { createIdpSigningKeys } from './id-jag/idp-signing-keys.ts';
import { recordIdJagExchanges } from './audit/record-id-jag-exchanges.ts';
import { federatedSignInRoutes } from './federation/federated-sign-in-routes.ts';
import { UpstreamClients } from './federation/upstream-clients.ts';
import { createCsrf } from './http/csrf.ts';
import { errorPages, providerErrorRenderer } from './http/error-pages.ts';
import { limitRequests } from './http/limit-requests.ts';
import { prepareOAuthRequest } from './http/prepare-oauth-request.ts';
import { LocalRateLimiter } from './http/local-rate-limiter.ts';
import { RateLimiter, type TokenBuckets } from './http/rate-limiter.ts';
import { providerAnswers, readableRefusals } from './http/readable-refusals.ts';
import { redirectToIssuerHost } from './http/redirect-to-issuer-host.ts';
import { refusePagesOverPlainHttp } from './http/refuse-pages-over-plain-http.ts';
import { refuseRepeatedAuthorization } from './http/refuse-repeated-authorization.ts';
import { registrationCors } from './http/registration-cors.ts';
import { securityHeaders } from './http/security-headers.ts';
import { shortcutTokenEndpoints } from './http/shortcut-token-endpoints.ts';
import { interactionRoutes } from './interactions/interaction-routes.ts';
import type { KeyStore } from './keys/key-store.ts';
import { logNewSigningKeys } from './keys/log-new-signing-keys.ts';
import { loadStartingKeys, openKeyStore, type StartingKeys } from './keys/open-key-store.ts';
import { activeKey, toProviderJwks, toPublicJwks, type StoredKey } from './keys/signing-keys.ts';
import { createAuthServerMetrics } from './ops/auth-server-metrics.ts';
import { countProviderEvents } from './ops/count-provider-events.ts';
import { createProvider, type ProviderDeps } from './provider/create-provider.ts';
import { hashStoredSecrets } from './provider/hash-stored-secrets.ts';
import { acceptHashedClientSecrets } from './provider/hashed-client-secrets.ts';
import { pinUrlsToIssuer } from './provider/pin-urls-to-issuer.ts';
import { ModelStore } from './provider/model-store.ts';
import { startSweeper, sweepOnce } from './provider/start-sweeper.ts';
import { INTERNAL_CLIENT_ID } from './provider/internal-client.ts';
import { expireUnusedClients, keepClientsGivenTokens } from './registration/expire-unused-clients.ts';
import { PendingRegistrations } from './registration/pending-registrations.ts';
import type { ConnectionLog, ConnectionRecorder } from '../../shared/connection-events.ts';
import { createConnectionLog } from './connections/connection-log.ts';
import { ConnectionEventStore } from '../../shared/connections/connection-event-store.ts';
import { DatabaseConnectionRecorder } from '../../shared/connections/connection-recorder.ts';
import { pruneConnectionEvents } from '../../shared/connections/prune-connection-events.ts';
import { recordMetadataFetches } from './connections/record-metadata-fetches.ts';
import { recordProviderConnectionEvents } from './connections/record-provider-connection-events.ts';
import { recordRefusedTokenTarget } from './connections/record-refused-token-target.ts';
import { recordSignInSteps } from './connections/record-sign-in-steps.ts';
import { skipOwnClient } from './connections/skip-own-client.ts';
import { setApartUnknownClients } from './connections/set-apart-unknown-clients.ts';
import { FloodGuard } from '../../shared/connections/flood-guard.ts';
import { REVOCATION_FEED_PATH, revocationFeedRoute } from './revocation/revocation-feed-route.ts';
import { revokeJwtAccessTokens } from './revocation/revoke-jwt-access-tokens.ts';
import { createRenderer, VIEWS_DIR } from './views/create-renderer.ts';

export interface AuthServer {
  app: Koa;
  provider: Provider;
  /** The app's database (SQLite or PostgreSQL). */
  database: SqlDatabase;
  users: UserStore;
  hasher: PasswordHasher;
  /** Users, clients, grants, allow-lists, keys and the audit log, as the admin pages change them. */
  admin: AdminServices;
  /**
   * Creates the first admin when no user exists. Call it once the server listens, so a start that
   * fails creates no admin whose password nobody saw (accounts/bootstrap-admin.ts).
   */
  createBootstrapAdmin(): Promise<BootstrapAdmin | undefined>;
  /**
   * The bootstrap admin's username while it has never signed in (the banner says how to reset it),
   * with its password file while that is there; once it has signed in, that file is removed.
   */
  unusedBootstrapAdmin(): Promise<{ username: string; passwordFile?: string } | undefined>;
  /** Where this server's connection events go (the database recorder unless one was passed). */
  connectionRecorder: ConnectionRecorder;
  /** Connection attempts from both apps' events, for the admin pages, "My apps" and the CLI. */
  connections: ConnectionLog;
  /** Runs one round of the sweeper now (it also runs every minute): expired rows, old events, free pages. */
  sweep(): Promise<void>;
  close(): Promise<void>;
}

const STYLESHEET = readFileSync(join(VIEWS_DIR, 'static', 'gatehouse.css'));

/**
 * Paths served by something other than a @koa/router route, with their methods, for 405 answers:
 * oidc-provider's endpoints (its router folds case and drops one trailing slash) and the probes.
 */
const OTHER_ROUTES: KnownRoute[] = [
  { path: /^\/\.well-known\/(openid-configuration|oauth-authorization-server)\/?$/i, methods: ['GET'] },
  // GET only: the provider's `enableHttpPostMethods` is off, so a POST here would find nothing.
  { path: /^\/oauth\/authorize\/?$/i, methods: ['GET'] },
  { path: /^\/oauth\/authorize\/[^/]+\/?$/i, methods: ['GET'] },
  { path: /^\/oauth\/(token|register|revoke|introspect)\/?$/i, methods: ['POST'] },
  { path: /^\/oauth\/jwks\/?$/i, methods: ['GET'] },
  { path: /^\/(healthz|readyz)$/, methods: ['GET'] },
];

export interface AuthServerOptions {
  /** Replaces the database adapter for the provider's models (benchmarks compare against memory). */
  adapter?: ProviderDeps['adapter'];
  /** Test-only: let Client ID Metadata Documents come from 127.0.0.1 with a test CA. */
  metadataFetch?: MetadataFetchOptions;
  /** Where the metrics go (served by the caller). Default is a registry nobody reads. */
  registry?: Registry;
  /**
   * "Now" for everything this server decides by time: stored expiries, the refresh token cap,
   * sign-in throttling, rate limits, the admin idle timeout and re-authentication, key stages,
   * revocation entries, the audit log. Tests pass a clock they move. oidc-provider keeps its own
   * `Date.now()` (apps/shared/clock.ts says where the two meet). Default: systemClock.
   */
  clock?: Clock;
  /** Where connection events go (apps/shared/connection-events.ts). Default: this server's database. */
  connectionRecorder?: ConnectionRecorder;
  /** Benchmarks and tests: how passwords are hashed (the config gives the cost and the threads). */
  passwordHashing?: Omit<PasswordHasherOptions, 'threads'>;
}

export async function createAuthServer(config: AuthServerConfig, logger: Logger, options: AuthServerOptions = {}): Promise<AuthServer> {
  const clock = options.clock ?? systemClock;
  // Group commit on SQLite: the token path's writes of one event-loop turn share a COMMIT
  // (apps/shared/storage/group-commit.ts).
  const database = await openDatabase(config.database, 'auth-server', {
    groupCommit: true,
    // SQLite's checkpoints on a worker thread (apps/shared/storage/background-checkpoints.ts).
    checkpointInBackground: {
      onUnexpectedExit: (err) => logger.warn({ err }, 'the SQLite checkpoint thread stopped: commits take the checkpoints again, which pauses requests for a few ms every 4 MB of writes'),
    },
  });
  // Before anything else reads the database: a missing or wrong key encryption key stops the start here.
  let keyStore: KeyStore;
  let starting: StartingKeys;
  try {
    keyStore = openKeyStore(config, database, clock);
    starting = await loadStartingKeys(keyStore);
    if (starting.created) await logNewSigningKeys(database, keyStore.location, logger);
  } catch (err) {
    await database.close();
    throw err;
  }
  const { signingKeys: keys, cookieKeys } = starting;
  const converted = await hashStoredSecrets(database);
  if (converted > 0) logger.info({ rows: converted }, 'stored tokens, sessions and client secrets of an earlier version replaced by their hashes');

  const users = new UserStore(database);
  const hasher = new PasswordHasher(config.bcryptCost, { ...options.passwordHashing, threads: config.passwordHashThreads });
  if (hasher.engine.name === 'bcryptjs' && hasher.engine.unavailable) {
    logger.warn({ reason: hasher.engine.unavailable }, 'native bcrypt could not be loaded: passwords are hashed with bcryptjs, which takes about 1.4 times as long');
  }
  let configuredChanges: Awaited<ReturnType<typeof applyConfiguredUsers>>;
  let preparedAdmin: Awaited<ReturnType<typeof prepareBootstrapAdmin>>;
  try {
    configuredChanges = await applyConfiguredUsers(config, users, hasher);
    preparedAdmin = await prepareBootstrapAdmin(config, users, hasher);
  } catch (err) {
    // A config file naming a federated user's name (ConfigError), or the database failing.
    await hasher.close();
    await database.close();
    throw err;
  }

  // Readiness waits for the first-admin step (main.ts runs it once listening): a probe that said
  // ready before it would let the first sign-in as that admin fail.
  let firstAdminSettled = false;
  const firstAdminPassword = new FirstAdminPasswordFile(config.firstAdminPasswordFile, config.bootstrapAdmin.username);

  const https = config.issuer.startsWith('https:');
  const render = createRenderer(config.issuer);
  const audit = new AuditLog(database, config.audit, clock);
  const models = new ModelStore(database, clock, (accountId) => users.forget(accountId));
  const admin = createAdminServices({
    database, models, config, users, audit, keyStore,
    hashPassword: (password) => hasher.hash(password),
    validateClientMetadata: validateWithProvider(() => holder.current),
    onKeysChanged: () => holder.reload(),
    clock,
  });
  await admin.users.finishConfiguredChanges(configuredChanges, CONFIG_FILE);
  await warnOfRetiredUpstreams(database, {
    upstreams: config.mode === 'builtin' ? [] : config.upstreams,
    isTrustedIdp: async (issuer) => (await admin.trustedIdps.find(issuer)) !== undefined,
  }, logger);
  // Trusted hosts: the config file's plus the admins', read per use. Redirect URIs and schemes are
  // read by the provider's synchronous validator, so from snapshots that follow the table
  // (allow-list-snapshot.ts: changes on another replica apply within about 2 seconds).
  const onSnapshotError = (err: unknown) => logBackgroundFailure(logger, err, 'reloading an allow-list failed; the last one loaded stays in use');
  const allowedRedirectUris = await AllowListSnapshot.follow(admin.redirectUris, { onError: onSnapshotError });
  const allowedSchemes = await AllowListSnapshot.follow(admin.redirectSchemes, { onError: onSnapshotError });
  const documentHostPolicy = createDocumentHostPolicy(
    config.clientIdMetadataDocuments,
    () => admin.trustedHosts.effective(),
    options.metadataFetch?.dangerouslyAllowLoopback,
  );
  const metrics = createAuthServerMetrics(options.registry ?? createMetricsRegistry('auth-server'));
  const connectionEvents = new ConnectionEventStore(database, 'connection_events');
  const ownClientsSkipped = skipOwnClient(options.connectionRecorder
    ?? new DatabaseConnectionRecorder({ store: connectionEvents, app: 'auth-server', clock, logger, metrics: metrics.connections }));
  // Successful refreshes: once a minute per grant (record-provider-connection-events.ts); no total cap.
  const repeatedRefreshes = new FloodGuard({ clock, maxKeys: 10_000, maxPerWindow: Number.POSITIVE_INFINITY });
  const clientDocuments = createClientDocumentCache(createMetadataFetch(options.metadataFetch), {
    clock,
    logger,
    cacheMin: config.clientIdMetadataDocuments.cacheMin,
    cacheMax: config.clientIdMetadataDocuments.cacheMax,
    maxStale: config.clientIdMetadataDocuments.maxStale,
  });
  // Read per event, at request time, when the provider (built below) exists.
  const connectionRecorder = setApartUnknownClients(ownClientsSkipped, {
    findClient: (clientId) => holder.provider.Client.find(clientId),
    holdsDocument: (url) => clientDocuments.holds(url),
    wasUsed: (clientId) => admin.clientUsage.has(clientId),
    clock,
  });
  // ID-JAG (id-jag/): IdP keys come through the same SSRF guard as client documents (jose caches
  // the key sets itself, so not through the document cache).
  const accounts = new FederatedAccounts(database, users, audit);
  const idJagReplays = new IdJagReplays(database);
  const idJag = {
    trustedIdps: admin.trustedIdps, replays: idJagReplays, accounts, signingKeysOf: createIdpSigningKeys(createMetadataFetch(options.metadataFetch)),
  };
  // One memory of kept clients for every provider built. A replacement adapter (the benchmarks'
  // in-memory one) holds its registrations itself: no stored row, so no expiry to clear, and
  // asking the database would refuse every first token as a deleted client.
  const keepClientGivenToken = options.adapter ? undefined : keepClientsGivenTokens(models);
  // Built again, with the same configuration and listeners, whenever the signing keys change.
  const buildProvider = (signingKeys: StoredKey[]): Provider => {
    const built = createProvider({
      config,
      database,
      users,
      jwks: toProviderJwks(signingKeys),
      publicJwks: toPublicJwks(signingKeys),
      signingKid: activeKey(signingKeys)!.jwk.kid,
      cookieKeys,
      redirectUriPolicy: {
        allowedRedirectUris: () => allowedRedirectUris.current(),
        allowedSchemes: () => allowedSchemes.current(),
        allowPrivateUseSchemes: config.registration.allowPrivateUseSchemes,
      },
      renderError: providerErrorRenderer(render, logger),
      adapter: options.adapter,
      revocations: admin.revocations,
      documentHostPolicy,
      metadataFetch: clientDocuments.fetch,
      onDocumentAccepted: clientDocuments.accepted,
      idJag,
      keepClientGivenToken,
      clock,
    });
    // Behind a TLS-terminating proxy, client IPs and the external scheme come from X-Forwarded-*.
    built.proxy = config.trustProxy;
    pinUrlsToIssuer(built);
    built.on('server_error', (_ctx, err) => logger.error({ err }, 'oidc-provider server error'));
    countProviderEvents(built, metrics);
    expireUnusedClients(built, models, config.registration.unusedClientTtl, clock);
    acceptHashedClientSecrets(built);
    holdErrorRedirects(built);
    cutEchoedScope(built);
    trackClientUsage(built, admin.clientUsage, logger);
    recordProviderEvents(built, audit, users, logger);
    recordIdJagExchanges(built, audit, logger);
    recordProviderConnectionEvents(built, connectionRecorder, { resource: config.resource, refreshes: repeatedRefreshes });
    built.use(revokeJwtAccessTokens({ issuer: config.issuer, jwks: toPublicJwks(signingKeys), feed: admin.revocations }));
    return built;
  };
  const holder = new ProviderHolder(buildProvider, keys, keyStore, logger);
  const provider = holder.provider;
  const stopWatchingKeys = holder.watch(config.keysReloadInterval);
  const throttle = new SignInThrottle(database, config.signInThrottle, cookieKeys[0]!, clock);
  // SQLite: counted in this process, written every second (local-rate-limiter.ts); PostgreSQL:
  // counted in the database, so replicas share each count at once.
  const rateLimiter: TokenBuckets = database.dialect === 'sqlite'
    ? new LocalRateLimiter(database, { onFlushError: (err) => logBackgroundFailure(logger, err, 'writing rate limit counts failed; retrying with the next batch') })
    : new RateLimiter(database);
  const { registration: registrationLimit, token: tokenLimit, signIn: signInLimit } = config.rateLimits;
  const longestWindow = Math.max(registrationLimit.window, tokenLimit.window, signInLimit.window);
  const federatedLogins = new FederatedLogins(database);
  const sweepFailed = (err: unknown) => logBackgroundFailure(logger, err, 'sweeper failed');
  const sweepTasks = [
    () => models.sweepExpired(clock.epochSeconds()), () => throttle.prune(), () => federatedLogins.sweep(clock.epochSeconds()),
    () => audit.prune(), () => admin.clientUsage.prune(clock.now() - config.refreshTokenAbsoluteTtl * 1000),
    () => admin.revocations.prune(),
    () => idJagReplays.sweep(clock.epochSeconds()),
    () => rateLimiter.prune(longestWindow, clock.now()),
    pruneConnectionEvents(connectionEvents, config.connections, clock),
    // Last: the pages the deletes above left free go back to the file system (SQLite).
    () => database.releaseFreePages(),
  ];
  const stopSweeper = startSweeper(sweepTasks, 60_000, sweepFailed);

  // Behind a proxy, only the last X-Forwarded-For entry (added by our proxy) is trusted: earlier
  // ones are whatever the client sent, and would let it pick its own rate-limit bucket.
  const app = new Koa<RequestIdState>({ keys: cookieKeys, proxy: config.trustProxy, maxIpsCount: 1 });
  logAppErrors(app, logger);
  const csrf = createCsrf({ key: cookieKeys[0]!, secure: https });
  const router = new Router();
  router.get('/static/gatehouse.css', function stylesheet(ctx) {
    ctx.type = 'text/css';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = STYLESHEET;
  });

  // One instance of each, in the full stack and in the token endpoints' shortcut.
  const rateLimits = limitRequests({
    limiter: rateLimiter,
    limits: config.rateLimits.enabled ? config.rateLimits : undefined,
    pending: new PendingRegistrations(models),
    maxPendingClients: config.registration.maxPendingClients,
    clock,
    logger,
    onLimited: (limit) => metrics.rateLimited.inc({ limit }),
  });
  const prepareOAuth = prepareOAuthRequest({
    resource: config.resource,
    defaultScopes: config.defaultScopes,
    registrationBodyLimit: config.registration.maxBodyBytes,
    onTargetRefused: recordRefusedTokenTarget(connectionRecorder, config.resource),
  });

  app.use(observeRequests({ logger, requestDuration: metrics.requestDuration, polledPaths: [REVOCATION_FEED_PATH] }));
  app.use(rejectMalformedHost({ trustProxy: config.trustProxy }));
  app.use(securityHeaders({ https }));
  app.use(redirectToIssuerHost({ issuer: config.issuer, trustProxy: config.trustProxy }));
  app.use(sayWhenToRetry);
  app.use(errorPages(render, logger));
  app.use(refusePagesOverPlainHttp({ issuer: config.issuer, logger }));
  app.use(shortcutTokenEndpoints([readableRefusals, rateLimits, refuseRepeatedAuthorization, prepareOAuth, providerAnswers, holder.middleware]));
  app.use(answerMethodNotAllowed(OTHER_ROUTES));
  // Ready when the database answers a real query, a private signing key is loaded and the
  // first-admin step has run.
  app.use(healthRoutes({
    logger,
    checks: {
      database: () => database.get('SELECT count(*) AS n FROM schema_migrations'),
      keys: () => {
        if (!keys.some((key) => key.jwk.d)) throw new Error('no private signing key is loaded');
      },
      users: () => {
        if (!firstAdminSettled) throw new Error('the first admin is not created yet');
      },
    },
  }));
  app.use(recordMetadataFetches(connectionRecorder, config.issuer, clock));
  app.use(registrationCors);
  app.use(rateLimits);
  app.use(router.routes());
  app.use(homePage({ render, mcpUrl: config.resource }).routes());
  const connections = createConnectionLog({ database, config, signingKey: () => holder.signingKey, clock, logger, recorder: connectionRecorder });
  app.use(pageRoutes({
    services: admin,
    session: createPageSession({
      provider, users, issuer: config.issuer, clock,
      idleTimeout: config.admin.idleTimeout, reauthenticateAfter: config.admin.reauthenticateAfter,
    }),
    users, csrf, render,
    accessTokenTtl: config.accessTokenTtl,
    gatewayStatus: new GatewayStatus({
      uri: config.gatewayStatusUri, issuer: config.issuer, resource: config.resource, signingKey: () => holder.signingKey, logger, now: () => clock.now(),
    }),
    connections,
  }).routes());
  const recordSignInAndStep = recordSignInSteps(createSignInRecorder(audit, logger), connectionRecorder);
  const recordSignIn: SignInRecorder = async (ctx, attempt) => {
    await recordSignInAndStep(ctx, attempt);
    if (!attempt.ok || !attempt.user) return;
    const { user } = attempt;
    try {
      await firstAdminPassword.forgetIfFirstAdmin(user, users);
    } catch (err) {
      // The sign-in stands; the next start tries again (unusedBootstrapAdmin).
      logger.warn({ err, file: firstAdminPassword.path }, 'the first admin signed in, but its password file could not be removed');
    }
    if (user.firstAdmin === 'not_signed_in') {
      // On the row, so every replica's next start stops pointing it out and removes its file.
      await users.markFirstAdminSignedIn(user.id)
        .catch((err: unknown) => logger.warn({ err }, 'the first admin signed in, but that could not be recorded; the next start points it out again'));
    }
  };
  const upstreams = new UpstreamClients(config.upstreams);
  app.use(interactionRoutes({
    provider, users, hasher, throttle, csrf, render, documentHostPolicy,
    resourceScopes: MCP_SCOPES,
    identityScopes: OIDC_SCOPES,
    mode: config.mode,
    upstreams: upstreams.list().map(({ id, displayName }) => ({ id, displayName })),
    onSignIn: (result) => metrics.signIns.inc({ method: 'password', result }),
    recordSignIn,
    clock,
    connectionRecorder,
    ownPagesClientId: INTERNAL_CLIENT_ID,
    issuer: config.issuer,
  }).routes());
  // `mode: builtin` switches federated sign-in off, not just its buttons: its start and callback
  // routes are not mounted, so a forged start or a callback gets 404 whatever upstreams are listed
  // (serving-warnings.ts warns at boot about those). Nothing else needs them in builtin mode:
  // re-authentication goes through the sign-in page, which then offers only the password, and
  // linking accounts (CLI, ID-JAG) never calls an upstream from here.
  if (config.mode !== 'builtin' && upstreams.list().length > 0) {
    app.use(federatedSignInRoutes({
      provider, logins: federatedLogins, issuer: config.issuer, upstreams, accounts, csrf, logger,
      onSignIn: (result) => metrics.signIns.inc({ method: 'federated', result }),
      recordSignIn,
      clock,
    }).routes());
  }
  app.use(revocationFeedRoute(admin.revocations));
  app.use(markUntrustedDocumentClients(documentHostPolicy));
  app.use(refuseRepeatedAuthorization);
  app.use(prepareOAuth);
  app.use(holder.middleware);

  return {
    app,
    provider,
    database,
    users,
    hasher,
    admin,
    sweep: () => sweepOnce(sweepTasks, sweepFailed),
    async createBootstrapAdmin() {
      const created = await storeBootstrapAdmin(preparedAdmin, users, firstAdminPassword);
      preparedAdmin = undefined;
      firstAdminSettled = true;
      return created;
    },
    async unusedBootstrapAdmin() {
      const username = await unusedBootstrapAdmin(config, users, audit);
      if (username === undefined) {
        firstAdminPassword.remove();
        return undefined;
      }
      return { username, passwordFile: firstAdminPassword.exists() ? firstAdminPassword.path : undefined };
    },
    connectionRecorder,
    connections,
    async close() {
      stopSweeper();
      stopWatchingKeys();
      allowedRedirectUris.stop();
      allowedSchemes.stop();
      await rateLimiter.close();
      await hasher.close();
      // Events of requests that have been answered may still be queued (audit-log.ts).
      await audit.flush();
      await connectionRecorder.flush();
      await database.close();
    },
  };
}
