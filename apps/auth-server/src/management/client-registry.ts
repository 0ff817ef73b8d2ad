/**
 * Every client the server knows, for the admin pages and the CLI:
 *
 * - `dcr`: registered by Dynamic Client Registration (a provider Client row). Until its first
 *   token it carries an expiry (registration/expire-unused-clients.ts): listed as unused, and
 *   purgeable at once.
 * - `static`: created by an administrator (a Client row too), with a secret shown once and
 *   stored hashed (provider/hashed-client-secrets.ts), or public (PKCE only). A confidential static
 *   client may be marked as the resource server for our resource: it may then introspect the
 *   tokens other clients hold for that resource (provider/introspection-policy.ts), and exchange
 *   a caller's token for an identity token addressed to one of the upstream URLs the admin listed
 *   for it (token-exchange/token-exchange-grant.ts).
 * - `cimd`: Client ID Metadata Document clients seen at the token endpoint (provider/client-usage.ts).
 * A static client may also be a service account (client credentials; created, rescoped and
 * disabled by service-accounts.ts, listed and deleted here like any client).
 *
 * Deleting a client revokes its grants (its refresh tokens stop at once), removes its row and
 * puts it on the revocation feed (the resource server refuses its access tokens within seconds),
 * then revokes once more what it was granted in between. The grants go first, while the client is
 * still listed: a failure on the way (the feed refusing a grant's entry) leaves it listed, and
 * deleting it again finishes the job, where a row removed first left its grants with no client to
 * delete again. A CIMD client cannot be deleted for good: its grants are revoked and it is
 * forgotten, and it may connect again if its host is allowed.
 */
import type Provider from 'oidc-provider';
import { systemClock, type Clock } from '../../../shared/clock.ts';
import type { SqlDatabase, SqlExecutor } from '../../../shared/storage/sql-database.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { MAX_DETAIL_ITEMS } from '../audit/stored-details-of.ts';
import type { RevocationFeed } from '../revocation/revocation-feed.ts';
import { CLIENT_KIND, MAX_UPSTREAM_AUDIENCES, RESOURCE_SERVER_FOR, UPSTREAM_AUDIENCES } from '../registration/client-metadata-policy.ts';
import { upstreamAudienceDefect } from '../token-exchange/upstream-audience-defect.ts';
import { SERVICE_ACCOUNT, SERVICE_DISABLED, serviceScopes } from '../registration/service-account-policy.ts';
import { checkRedirectUri } from '../registration/redirect-uri-policy.ts';
import { hasUnshowableCharacter, MAX_CLIENT_NAME_LENGTH } from '../registration/check-client-name.ts';
import type { ChangedBy } from './admin-actor.ts';
import { AdminError } from './admin-error.ts';
import { cutInput } from './cut-input.ts';
import type { ClientUsage, ClientUse } from '../provider/client-usage.ts';
import type { GrantRegistry } from './grant-registry.ts';
import { JWT_BEARER_GRANT_TYPE } from '../id-jag/id-jag-grant-type.ts';
import { generateClientSecret, hashClientSecret } from '../provider/hashed-client-secrets.ts';
import { INTERNAL_CLIENT_ID } from '../provider/internal-client.ts';
import type { ModelStore, StoredClient } from '../provider/model-store.ts';

export type ClientKind = 'dcr' | 'static' | 'cimd';

export interface ClientSummary {
  clientId: string;
  kind: ClientKind;
  name: string | null;
  redirectUris: string[];
  authMethod: string;
  /** Epoch ms, when known. */
  createdAt: number | null;
  firstUsedAt: number | null;
  lastUsedAt: number | null;
  /** A registration that never obtained a token (and will expire at `expiresAt`). */
  unused: boolean;
  expiresAt: number | null;
  grantCount: number;
  /** Marked by an administrator as the resource server for our resource. */
  resourceServer: boolean;
  /** The upstream MCP server URLs it may obtain identity tokens for (RFC 8693 token exchange). */
  upstreamAudiences: string[];
  /** A service account (client credentials, service-accounts.ts), with its MCP scopes. */
  serviceAccount: boolean;
  scopes: string[];
  /** A service account an administrator disabled. */
  disabled: boolean;
  /** Registered for the jwt-bearer grant: may present enterprise IdPs' identity assertions (ID-JAG). */
  idJag: boolean;
}

export type StaticClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'none';

export interface StaticClientInput {
  name: string;
  redirectUris: string[];
  authMethod: StaticClientAuthMethod;
  /** Chosen id; default: a random one. */
  clientId?: string;
  /** Mark it as the resource server for our resource (confidential clients only). */
  resourceServer?: boolean;
  /** Upstream URLs it may obtain identity tokens for (resource servers only); exact strings. */
  upstreamAudiences?: string[];
  /** May present enterprise IdPs' identity assertions (ID-JAG) at the jwt-bearer grant (id-jag/). */
  idJag?: boolean;
}

/** Validates metadata as the provider would load it, returning what to store (oidc-provider's Client schema). */
export type ValidateClientMetadata = (metadata: Record<string, unknown>) => Record<string, unknown>;

/** Validation by oidc-provider's own Client schema (the same the provider applies when it loads the client). */
export function validateWithProvider(provider: () => Provider): ValidateClientMetadata {
  return (metadata) => {
    const Client = provider().Client as unknown as new (metadata: Record<string, unknown>) => { metadata(): Record<string, unknown> };
    return new Client(metadata).metadata();
  };
}

const CLIENT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$/;

/**
 * Why a client's name is refused when it holds a control, a line separator or a bidirectional
 * formatting character (check-client-name.ts): in the admin lists, on the consent page and in the
 * audit log it would read as another name (`\u202E` turns the text after it around).
 */
export const UNSHOWABLE_NAME = 'A name must not contain control characters, line breaks or bidirectional formatting characters (they make it read as another name).';

/** A random id for a static client, as `createStatic` draws one when none is chosen. */
export const newStaticClientId = () => `static-${generateClientSecret().slice(0, 16)}`;

/**
 * Registrations `purgeUnused` deletes per transaction: as many as one audit record names in full
 * (the audit log cuts a longer list). Other writes go on between batches: SQLite's, and on
 * PostgreSQL every revocation, which waits for the feed's lock that each deletion takes.
 */
const PURGE_BATCH = MAX_DETAIL_ITEMS;

/** The token endpoint authentication methods a static client may use. */
export const AUTH_METHODS: readonly string[] = ['client_secret_basic', 'client_secret_post', 'none'];

export class ClientRegistry {
  constructor(
    /** Where the client rows and the revocation feed are: a deletion and its entry commit together. */
    private readonly db: SqlDatabase,
    private readonly models: ModelStore,
    private readonly usage: ClientUsage,
    private readonly grants: GrantRegistry,
    private readonly audit: AuditLog,
    private readonly validate: ValidateClientMetadata,
    /** Our resource (RESOURCE_URL): what a client marked as resource server serves. */
    private readonly resource: string,
    private readonly revocations: RevocationFeed,
    /** This server's issuer: never an upstream audience. */
    private readonly issuer: string,
    /** Stamps `client_id_issued_at`. */
    private readonly clock: Clock = systemClock,
  ) {}

  async list(): Promise<ClientSummary[]> {
    const usage = await this.usage.all();
    const counts = await this.models.grantCountsByClient();
    const stored = (await this.models.clients()).map((client) => this.#summarise(client, usage, counts));
    const storedIds = new Set(stored.map((c) => c.clientId));
    const seen: ClientSummary[] = [...usage.values()]
      .filter((use) => use.kind === 'cimd' && !storedIds.has(use.clientId))
      .map((use) => ({
        clientId: use.clientId,
        kind: 'cimd',
        name: use.clientName,
        redirectUris: use.redirectUris,
        authMethod: 'none',
        createdAt: null,
        firstUsedAt: use.firstUsedAt,
        lastUsedAt: use.lastUsedAt,
        unused: false,
        expiresAt: null,
        grantCount: counts.get(use.clientId) ?? 0,
        resourceServer: false,
        upstreamAudiences: [],
        serviceAccount: false,
        scopes: [],
        disabled: false,
        idJag: false,
      }));
    return [...stored, ...seen].sort((a, b) => (b.lastUsedAt ?? b.createdAt ?? 0) - (a.lastUsedAt ?? a.createdAt ?? 0));
  }

  #summarise(client: StoredClient, usage: Map<string, ClientUse>, counts: Map<string, number>): ClientSummary {
    const { clientId, metadata, expiresAt } = client;
    const kind = metadata[CLIENT_KIND] === 'static' ? 'static' : 'dcr';
    const use = usage.get(clientId);
    return {
      clientId,
      kind,
      name: typeof metadata.client_name === 'string' ? metadata.client_name : null,
      redirectUris: Array.isArray(metadata.redirect_uris) ? (metadata.redirect_uris as string[]) : [],
      authMethod: typeof metadata.token_endpoint_auth_method === 'string' ? metadata.token_endpoint_auth_method : 'client_secret_basic',
      createdAt: typeof metadata.client_id_issued_at === 'number' ? metadata.client_id_issued_at * 1000 : null,
      firstUsedAt: use?.firstUsedAt ?? null,
      lastUsedAt: use?.lastUsedAt ?? null,
      unused: kind === 'dcr' && expiresAt !== null,
      expiresAt,
      grantCount: counts.get(clientId) ?? 0,
      resourceServer: kind === 'static' && metadata[RESOURCE_SERVER_FOR] === this.resource,
      upstreamAudiences: Array.isArray(metadata[UPSTREAM_AUDIENCES]) ? (metadata[UPSTREAM_AUDIENCES] as string[]) : [],
      serviceAccount: kind === 'static' && metadata[SERVICE_ACCOUNT] === true,
      scopes: kind === 'static' && metadata[SERVICE_ACCOUNT] === true ? serviceScopes(metadata.scope) : [],
      disabled: metadata[SERVICE_DISABLED] === true,
      idJag: Array.isArray(metadata.grant_types) && metadata.grant_types.includes(JWT_BEARER_GRANT_TYPE),
    };
  }

  /** The names of these clients, for pages that list client ids (the audit log): one lookup for a whole page. */
  names(clientIds: readonly string[]): Promise<Map<string, string>> {
    return this.models.clientNames(clientIds);
  }

  async find(clientId: string): Promise<ClientSummary | undefined> {
    return (await this.list()).find((c) => c.clientId === clientId);
  }

  /** Creates a static client; the secret (for confidential clients) is returned here only. */
  async createStatic(input: StaticClientInput, by: ChangedBy): Promise<{ clientId: string; clientSecret?: string }> {
    const name = input.name.trim();
    // Counted as registration counts client_name (check-client-name.ts): characters, not UTF-16 code units.
    if (!name || [...name].length > MAX_CLIENT_NAME_LENGTH) throw new AdminError(400, `A client needs a name of 1 to ${MAX_CLIENT_NAME_LENGTH} characters.`, 'client_name');
    if (hasUnshowableCharacter(name)) throw new AdminError(400, UNSHOWABLE_NAME, 'client_name');
    if (!AUTH_METHODS.includes(input.authMethod)) throw new AdminError(400, `The authentication method must be one of ${AUTH_METHODS.join(', ')}.`, 'token_endpoint_auth_method');
    const redirectUris = [...new Set(input.redirectUris.map((u) => u.trim()).filter(Boolean))];
    if (redirectUris.length === 0 || redirectUris.length > 20) throw new AdminError(400, 'A client needs 1 to 20 redirect URIs.', 'redirect_uris');
    let native = false;
    for (const uri of redirectUris) {
      // An administrator vouches for the client, so any https URI is acceptable; the safety rules still apply.
      const verdict = checkRedirectUri(uri, {
        allowedRedirectUris: () => new Set(), allowedSchemes: () => new Set(), allowPrivateUseSchemes: true, anyHttps: true, anyPrivateUseScheme: true,
      });
      if (!verdict.ok) throw new AdminError(400, `${cutInput(uri)} was refused: ${verdict.reason}.`, 'redirect_uris');
      native ||= verdict.native;
    }
    const clientId = input.clientId?.trim() || newStaticClientId();
    if (!CLIENT_ID.test(clientId)) throw new AdminError(400, 'A client id is 3 to 64 letters, digits or . _ - (starting with a letter or digit).', 'client_id');
    if (clientId === INTERNAL_CLIENT_ID || await this.models.clientExists(clientId) || (await this.usage.all()).has(clientId)) {
      throw new AdminError(409, `A client with the id ${clientId} already exists.`, 'client_id');
    }
    if (input.resourceServer && input.authMethod === 'none') {
      throw new AdminError(400, 'A resource server must be a confidential client (with a secret): a public client cannot prove who is introspecting.', 'token_endpoint_auth_method');
    }
    const upstreamAudiences = this.#upstreamAudiences(input);
    const clientSecret = input.authMethod === 'none' ? undefined : generateClientSecret();
    let metadata: Record<string, unknown>;
    try {
      metadata = this.validate({
        client_id: clientId,
        client_name: name,
        client_id_issued_at: this.clock.epochSeconds(),
        redirect_uris: redirectUris,
        grant_types: ['authorization_code', 'refresh_token', ...(input.idJag ? [JWT_BEARER_GRANT_TYPE] : [])],
        response_types: ['code'],
        token_endpoint_auth_method: input.authMethod,
        application_type: native ? 'native' : 'web',
        ...(clientSecret ? { client_secret: hashClientSecret(clientSecret), client_secret_expires_at: 0 } : {}),
        [CLIENT_KIND]: 'static',
        ...(input.resourceServer ? { [RESOURCE_SERVER_FOR]: this.resource } : {}),
        ...(upstreamAudiences.length > 0 ? { [UPSTREAM_AUDIENCES]: upstreamAudiences } : {}),
      });
    } catch (err) {
      const description = (err as { error_description?: string }).error_description ?? (err as Error).message;
      throw new AdminError(400, `The client was refused: ${description}`);
    }
    // One conditional insert: of two administrators choosing the same id at once, one gets the 409.
    // The record commits with it (as for a service account).
    const added = await this.models.addClient(clientId, metadata, (tx) => this.audit.record({
      event: 'client.created', actor: by.actor, ip: by.ip, clientId,
      details: { client_name: name, redirect_uris: redirectUris, token_endpoint_auth_method: input.authMethod, resource_server: Boolean(input.resourceServer),
        ...(upstreamAudiences.length > 0 ? { upstream_audiences: upstreamAudiences } : {}),
        ...(input.idJag ? { id_jag: true } : {}),
      },
    }, tx));
    if (!added) throw new AdminError(409, `A client with the id ${clientId} already exists.`, 'client_id');
    return { clientId, clientSecret };
  }

  #upstreamAudiences(input: StaticClientInput): string[] {
    const audiences = [...new Set((input.upstreamAudiences ?? []).map((u) => u.trim()).filter(Boolean))];
    if (audiences.length === 0) return [];
    if (!input.resourceServer) throw new AdminError(400, 'Only a resource server may obtain identity tokens for upstream servers: mark it as resource server too.', 'upstream_audiences');
    if (audiences.length > MAX_UPSTREAM_AUDIENCES) throw new AdminError(400, `A client may list at most ${MAX_UPSTREAM_AUDIENCES} upstream audiences.`, 'upstream_audiences');
    for (const audience of audiences) {
      const defect = upstreamAudienceDefect(audience, { issuer: this.issuer, resource: this.resource });
      if (defect) throw new AdminError(400, `Upstream audience refused: ${defect}.`, 'upstream_audiences');
    }
    return audiences;
  }

  /**
   * Deletes the client row and publishes its feed entry in one transaction: its refresh tokens
   * fail and its access tokens are refused from the same moment. A row deleted without its entry
   * (the entry failing after it) would leave those access tokens valid for their whole lifetime,
   * and no client to delete again. `onlyPending`: only while the registration is pending first
   * use; false, and nothing published, when it was not. `tx`: the caller's transaction.
   */
  async #deleteRow(clientId: string, tx: SqlExecutor, options: { onlyPending?: boolean } = {}): Promise<boolean> {
    if (!await this.models.deleteClient(clientId, options, tx) && options.onlyPending) return false;
    await this.revocations.revokeClient(clientId, tx);
    return true;
  }

  /**
   * Once the row is gone: its grants, then the usage record. A CIMD client is listed only by its
   * usage record and may connect again (its document is fetched anew), so its refresh tokens
   * would work again: forgotten before a grant that failed to be revoked, it could no longer be
   * found to be deleted again, and kept its access.
   */
  async #afterDelete(clientId: string, by: ChangedBy, reason: string): Promise<number> {
    const revoked = await this.grants.revokeAll({ clientId }, by, reason);
    await this.usage.forget(clientId);
    return revoked;
  }

  async remove(clientId: string, by: ChangedBy): Promise<{ kind: ClientKind; grantsRevoked: number }> {
    if (clientId === INTERNAL_CLIENT_ID) throw new AdminError(409, 'This is Gatehouse\'s own sign-in client; it cannot be deleted.');
    const client = await this.find(clientId);
    if (!client) throw new AdminError(404, `There is no client ${cutInput(clientId)}.`);
    let grantsRevoked = await this.grants.revokeAll({ clientId }, by, 'client deleted');
    // The audit record commits with the row: recorded after it, a failed record left the client
    // deleted with no trace of who deleted it. It counts the grants revoked up to then; any the
    // second pass finds are each in the log as grant.revoked, with the same reason.
    await this.db.transaction(async (tx) => {
      await this.#deleteRow(clientId, tx);
      await this.audit.record({
        event: 'client.deleted', actor: by.actor, ip: by.ip, clientId,
        details: { kind: client.kind, client_name: client.name, grants_revoked: grantsRevoked },
      }, tx);
    });
    // A grant made between the first pass and the row's removal (a consent in flight).
    grantsRevoked += await this.#afterDelete(clientId, by, 'client deleted');
    return { kind: client.kind, grantsRevoked };
  }

  /**
   * Deletes every registration that never obtained a token; returns how many. In transactions of
   * PURGE_BATCH, each with the `clients.purged` record that names its registrations: after a flood
   * of registrations, one transaction for thousands held SQLite's write lock (on PostgreSQL, the
   * revocation feed's lock) for the whole run, and its one record named only the first
   * MAX_DETAIL_ITEMS. A failure leaves the batches before it purged and recorded and the rest
   * listed as unused, so purging again finishes the job.
   */
  async purgeUnused(by: ChangedBy): Promise<number> {
    const candidates = (await this.list()).filter((c) => c.unused);
    let purged = 0;
    for (let start = 0; start < candidates.length; start += PURGE_BATCH) {
      const batch = candidates.slice(start, start + PURGE_BATCH);
      // Each row goes in one transaction with the record that lists it: deleted one by one and
      // recorded at the end, a failed record left them gone with no trace.
      const deleted = await this.db.transaction(async (tx) => {
        const clientIds: string[] = [];
        // Only while still pending: a registration that got its first token meanwhile (on any
        // replica, or while an earlier batch was purged) stays. Its expiry is cleared before any
        // of its tokens is stored or sent, and one deleted first gets none
        // (registration/expire-unused-clients.ts).
        for (const client of batch) if (await this.#deleteRow(client.clientId, tx, { onlyPending: true })) clientIds.push(client.clientId);
        if (clientIds.length > 0) await this.audit.record({ event: 'clients.purged', actor: by.actor, ip: by.ip, details: { count: clientIds.length, client_ids: clientIds } }, tx);
        return clientIds;
      });
      for (const clientId of deleted) await this.#afterDelete(clientId, by, 'unused client purged');
      purged += deleted.length;
    }
    return purged;
  }
}
