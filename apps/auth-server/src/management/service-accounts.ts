/**
 * Service accounts: the machine clients of the MCP extension
 * `io.modelcontextprotocol/oauth-client-credentials` (scripts and services calling MCP tools
 * without a person). Each is a static client (a provider Client row) that only an administrator
 * creates here, marked `gatehouse_service_account`, whose only grant is `client_credentials`
 * (RFC 6749 §4.4; registration/service-account-policy.ts enforces that on every load) and whose
 * `scope` is the set of MCP scopes the administrator gave it. Its tokens name it as `sub` and
 * `client_id`.
 *
 * - Authentication: `private_key_jwt` (RFC 7523 §2.2, the extension's RECOMMENDED method) with
 *   the service's public keys pasted as a JWK Set (`jwks`) or an https `jwks_uri` the provider
 *   fetches through the SSRF-guarded fetch (cimd/create-metadata-fetch.ts); or
 *   `client_secret_basic` with a generated secret shown once and stored hashed
 *   (provider/hashed-client-secrets.ts).
 * - Scopes can be changed; taking one away, or disabling the account, puts the client on the
 *   revocation feed, so its access tokens stop at the resource server within seconds (a service
 *   has no grant or refresh token to revoke). Deleting is ClientRegistry.remove, as for any client.
 * - A client id is never UUID-shaped: `sub` of a user token is the user's UUID, and a service's
 *   `sub` is its client id, so the two can never name the same subject at the resource server.
 */
import { systemClock, type Clock } from '../../../shared/clock.ts';
import type { SqlExecutor } from '../../../shared/storage/sql-database.ts';
import { MCP_SCOPES } from '../../../shared/mcp-scopes.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { generateClientSecret, hashClientSecret } from '../provider/hashed-client-secrets.ts';
import { INTERNAL_CLIENT_ID } from '../provider/internal-client.ts';
import type { ClientMetadataChange } from '../provider/database-adapter.ts';
import type { ModelStore } from '../provider/model-store.ts';
import { hasUnshowableCharacter, MAX_CLIENT_NAME_LENGTH } from '../registration/check-client-name.ts';
import { CLIENT_KIND } from '../registration/client-metadata-policy.ts';
import { SERVICE_ACCOUNT, SERVICE_AUTH_METHODS, SERVICE_DISABLED, serviceScopes } from '../registration/service-account-policy.ts';
import type { RevocationFeed } from '../revocation/revocation-feed.ts';
import type { ChangedBy } from './admin-actor.ts';
import { AdminError } from './admin-error.ts';
import { checkShownScopes } from './check-shown-scopes.ts';
import { cutInput } from './cut-input.ts';
import { UNSHOWABLE_NAME, type ValidateClientMetadata } from './client-registry.ts';
import { checkPublicJwks } from './check-public-jwks.ts';

export type ServiceAuthMethod = 'private_key_jwt' | 'client_secret_basic';

export interface ServiceAccountInput {
  name: string;
  authMethod: ServiceAuthMethod;
  /** MCP scopes (at least one). */
  scopes: string[];
  /** private_key_jwt: the public keys as JWK Set JSON text (or `jwksUri`). */
  jwks?: string;
  /** private_key_jwt: an https URL serving the JWK Set (or `jwks`). */
  jwksUri?: string;
  /** Chosen id; default: `svc-` and random characters. */
  clientId?: string;
}

const CLIENT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A random id for a service account, as `create` draws one when none is chosen. */
export const newServiceAccountId = () => `svc-${generateClientSecret().slice(0, 16)}`;

export class ServiceAccounts {
  constructor(
    private readonly models: ModelStore,
    private readonly audit: AuditLog,
    private readonly validate: ValidateClientMetadata,
    private readonly revocations: RevocationFeed,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Creates a service account; the secret (client_secret_basic) is returned here only. */
  async create(input: ServiceAccountInput, by: ChangedBy): Promise<{ clientId: string; clientSecret?: string }> {
    const name = input.name.trim();
    if (!name || [...name].length > MAX_CLIENT_NAME_LENGTH) throw new AdminError(400, `name: a service account needs a name of 1 to ${MAX_CLIENT_NAME_LENGTH} characters.`, 'client_name');
    if (hasUnshowableCharacter(name)) throw new AdminError(400, `name: ${UNSHOWABLE_NAME}`, 'client_name');
    if (!SERVICE_AUTH_METHODS.includes(input.authMethod)) {
      throw new AdminError(400, `auth_method: must be one of ${SERVICE_AUTH_METHODS.join(', ')}.`, 'token_endpoint_auth_method');
    }
    const scopes = checkScopes(input.scopes);
    const keys = input.authMethod === 'private_key_jwt' ? checkKeys(input) : {};
    const clientId = input.clientId?.trim() || newServiceAccountId();
    if (!CLIENT_ID.test(clientId) || UUID.test(clientId)) {
      throw new AdminError(400, 'client_id: 3 to 64 letters, digits or . _ - (starting with a letter or digit), and not a UUID.', 'client_id');
    }
    if (clientId === INTERNAL_CLIENT_ID || await this.models.clientExists(clientId)) {
      throw new AdminError(409, `A client with the id ${clientId} already exists.`, 'client_id');
    }
    const clientSecret = input.authMethod === 'client_secret_basic' ? generateClientSecret() : undefined;
    const metadata = this.#validated({
      client_id: clientId,
      client_name: name,
      client_id_issued_at: this.clock.epochSeconds(),
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: input.authMethod,
      scope: scopes.join(' '),
      ...keys,
      ...(clientSecret ? { client_secret: hashClientSecret(clientSecret), client_secret_expires_at: 0 } : {}),
      [CLIENT_KIND]: 'static',
      [SERVICE_ACCOUNT]: true,
    });
    // One conditional insert: of two administrators choosing the same id at once, one gets the 409.
    // The record commits with it: an account committed first stayed usable, unrecorded, when the
    // record then failed.
    const added = await this.models.addClient(clientId, metadata, (tx) => this.audit.record({
      event: 'client.created', actor: by.actor, ip: by.ip, clientId,
      details: {
        client_name: name, service_account: true, token_endpoint_auth_method: input.authMethod, scope: scopes.join(' '),
        ...('jwks_uri' in keys ? { jwks_uri: keys.jwks_uri } : {}),
      },
    }, tx));
    if (!added) throw new AdminError(409, `A client with the id ${clientId} already exists.`, 'client_id');
    return { clientId, clientSecret };
  }

  /**
   * Sets the account's scopes; taking one away also stops the tokens it holds now. `shown`: the
   * scopes the admin page showed when it was opened (check-shown-scopes.ts), checked on the
   * locked row; the CLI gives none.
   */
  async setScopes(clientId: string, requested: string[], by: ChangedBy, shown?: readonly string[]): Promise<void> {
    const scopes = checkScopes(requested);
    await this.#change(clientId, (stored) => {
      checkShownScopes(serviceScopes(stored.scope), shown, clientId);
      return { ...stored, scope: scopes.join(' ') };
    }, async ({ before, after }, tx) => {
      const [was, scopes] = [serviceScopes(before.scope), serviceScopes(after.scope)];
      if (was.some((scope) => !scopes.includes(scope))) await this.revocations.revokeClient(clientId, tx);
      await this.audit.record({
        event: 'service_account.scopes_changed', actor: by.actor, ip: by.ip, clientId,
        details: { from: was.join(' '), to: scopes.join(' ') },
      }, tx);
    });
  }

  /** Disables (no token, current tokens refused) or enables the account. */
  async setDisabled(clientId: string, disabled: boolean, by: ChangedBy): Promise<void> {
    // The entry that refuses the account's current tokens, and the audit record, commit with the
    // flag: written after it, a failed entry left the account disabled with its tokens working
    // for their lifetime, and the pages offer a disabled account only "Enable".
    await this.#change(clientId, (stored) => {
      const { [SERVICE_DISABLED]: _was, ...rest } = stored;
      return disabled ? { ...rest, [SERVICE_DISABLED]: true } : rest;
    }, async (_changed, tx) => {
      if (disabled) await this.revocations.revokeClient(clientId, tx);
      await this.audit.record({ event: disabled ? 'service_account.disabled' : 'service_account.enabled', actor: by.actor, ip: by.ip, clientId }, tx);
    });
  }

  /**
   * Applies `change` to the stored account in one locked read and write (ModelStore.changeClient):
   * an administrator on another replica, or the CLI, changing the same account at the same moment
   * is applied after this, to what this wrote, and never undone by it. `publish` commits with the
   * change: the entry of a scope removal written after it, and failing, left the scope removed
   * and unpublished, and removing it again removed nothing, so published nothing: the account's
   * tokens kept the scope for their lifetime.
   */
  async #change(
    clientId: string,
    change: (stored: Record<string, unknown>) => Record<string, unknown>,
    publish?: (changed: ClientMetadataChange, tx: SqlExecutor) => Promise<void>,
  ): Promise<ClientMetadataChange> {
    const notFound = () => new AdminError(404, `There is no service account ${cutInput(clientId)}.`);
    const changed = await this.models.changeClient(clientId, (stored) => {
      if (stored[SERVICE_ACCOUNT] !== true) throw notFound();
      return this.#validated(change(stored));
    }, publish);
    if (!changed) throw notFound();
    return changed;
  }

  /** The provider's own schema check, so what is stored is what the provider will load. */
  #validated(metadata: Record<string, unknown>): Record<string, unknown> {
    try {
      return this.validate(metadata);
    } catch (err) {
      const description = (err as { error_description?: string }).error_description ?? (err as Error).message;
      throw new AdminError(400, `The service account was refused: ${description}`);
    }
  }
}

function checkScopes(requested: string[]): string[] {
  const unknown = requested.find((scope) => !(MCP_SCOPES as readonly string[]).includes(scope));
  if (unknown !== undefined) throw new AdminError(400, `scopes: ${cutInput(unknown)} is not one of ${MCP_SCOPES.join(', ')}.`, 'scope');
  const scopes = serviceScopes(requested.join(' '));
  if (scopes.length === 0) throw new AdminError(400, 'scopes: a service account needs at least one scope.', 'scope');
  return scopes;
}

function checkKeys(input: ServiceAccountInput): { jwks: object } | { jwks_uri: string } {
  const jwks = input.jwks?.trim();
  const jwksUri = input.jwksUri?.trim();
  if (!jwks && !jwksUri) {
    throw new AdminError(400, 'jwks: private_key_jwt needs the service\'s public keys: a JWK Set or an https jwks_uri serving one. '
      + 'Without keys, choose client_secret_basic (a generated secret, shown once).', 'jwks');
  }
  if (jwks && jwksUri) throw new AdminError(400, 'jwks: private_key_jwt needs either a JWK Set or a jwks_uri, not both.', 'jwks');
  if (jwksUri) {
    const url = URL.parse(jwksUri);
    if (!url || url.protocol !== 'https:' || url.username || url.password || url.hash) {
      throw new AdminError(400, 'jwks_uri: must be an https URL without credentials or fragment.', 'jwks_uri');
    }
    return { jwks_uri: url.href };
  }
  return { jwks: checkPublicJwks(jwks!) };
}
