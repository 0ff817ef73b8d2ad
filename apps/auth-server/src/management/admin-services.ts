/**
 * The administration modules over one database, as both the admin pages and the CLI use them
 * (the CLI works on the database directly, never through the server's HTTP interface).
 */
import { systemClock, type Clock } from '../../../shared/clock.ts';
import type { AuthServerConfig } from '../../../shared/config/load-config.ts';
import type { SqlDatabase } from '../../../shared/storage/sql-database.ts';
import type { ModelStore } from '../provider/model-store.ts';
import type { UserStore } from '../accounts/user-store.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { KeyStore } from '../keys/key-store.ts';
import { ID_TOKEN_TTL } from '../provider/create-provider.ts';
import { RevocationFeed } from '../revocation/revocation-feed.ts';
import { createRedirectSchemeAllowList, createRedirectUriAllowList, createTrustedHostList, type AllowList } from './allow-list.ts';
import { ClientRegistry, type ValidateClientMetadata } from './client-registry.ts';
import { ClientUsage } from '../provider/client-usage.ts';
import { GrantRegistry } from './grant-registry.ts';
import { ServiceAccounts } from './service-accounts.ts';
import { TrustedIdps } from '../id-jag/trusted-idps.ts';
import { TrustedIdpAdmin } from './trusted-idp-admin.ts';
import { SigningKeyAdmin } from './signing-key-admin.ts';
import { UserAdmin } from './user-admin.ts';
import { FederatedLinkAdmin } from './federated-link-admin.ts';
import { FederatedAccounts } from '../federation/federated-accounts.ts';

export interface AdminServices {
  audit: AuditLog;
  users: UserAdmin;
  /** Linking an upstream sign-in to an existing user (what a refused first sign-in asks for). */
  federatedLinks: FederatedLinkAdmin;
  grants: GrantRegistry;
  clients: ClientRegistry;
  /** Machine clients (client credentials): create, scopes, disable; deleted as any client. */
  serviceAccounts: ServiceAccounts;
  clientUsage: ClientUsage;
  redirectUris: AllowList;
  /** Private-use redirect URI schemes (RFC 8252 §7.1) beyond reverse-domain names and known MCP clients. */
  redirectSchemes: AllowList;
  trustedHosts: AllowList;
  keys: SigningKeyAdmin;
  /** Enterprise IdPs whose ID-JAGs are accepted (config file and admin-added), as the grant reads them. */
  trustedIdps: TrustedIdps;
  /** Adding and removing trusted IdPs. */
  trustedIdpAdmin: TrustedIdpAdmin;
  /** What the resource server must refuse before tokens expire (grants, users, clients, keys). */
  revocations: RevocationFeed;
}

export interface AdminServiceDeps {
  /** The app's database: the audit log, allow-lists, revocation feed and client usage live there. */
  database: SqlDatabase;
  /** The provider's stored models (grants, clients), asked through their columns. */
  models: ModelStore;
  config: AuthServerConfig;
  users: UserStore;
  /** bcrypt at the configured cost (PasswordHasher#hash). */
  hashPassword: (password: string) => Promise<string>;
  audit: AuditLog;
  /** Where the signing keys are (keys/open-key-store.ts). */
  keyStore: KeyStore;
  validateClientMetadata: ValidateClientMetadata;
  /** Runs after the signing keys changed (the server loads the new keys). */
  onKeysChanged?: () => Promise<void>;
  /** Revocation entries, key stages and client registrations are stamped and expired on it. Default: systemClock. */
  clock?: Clock;
}

export function createAdminServices(deps: AdminServiceDeps): AdminServices {
  const { database, models, config, audit, clock = systemClock } = deps;
  const revocations = new RevocationFeed(database, { tokenLifetime: config.accessTokenTtl, clock });
  const grants = new GrantRegistry(database, models, audit, revocations);
  const clientUsage = new ClientUsage(database, clock);
  const trustedIdps = new TrustedIdps(database, config.idJag.trustedIdps);
  const users = new UserAdmin(database, deps.users, deps.hashPassword, grants, audit, revocations, models);
  return {
    audit,
    grants,
    clientUsage,
    revocations,
    users,
    federatedLinks: new FederatedLinkAdmin(database, config.upstreams, trustedIdps, new FederatedAccounts(database, deps.users), users, audit, grants, models),
    serviceAccounts: new ServiceAccounts(models, audit, deps.validateClientMetadata, revocations, clock),
    clients: new ClientRegistry(database, models, clientUsage, grants, audit, deps.validateClientMetadata, config.resource, revocations, config.issuer, clock),
    redirectUris: createRedirectUriAllowList(database, config.registration.allowedRedirectUris, audit, clock),
    redirectSchemes: createRedirectSchemeAllowList(database, config.registration.allowedSchemes, audit, clock),
    trustedHosts: createTrustedHostList(database, config.clientIdMetadataDocuments.trustedHosts, audit, clock),
    trustedIdps,
    trustedIdpAdmin: new TrustedIdpAdmin(database, trustedIdps, audit, clock),
    keys: new SigningKeyAdmin(deps.keyStore, Math.max(config.accessTokenTtl, ID_TOKEN_TTL), config.keysReloadInterval, audit, revocations, deps.onKeysChanged, clock),
  };
}
