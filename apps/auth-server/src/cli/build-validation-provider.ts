/**
 * An oidc-provider instance for the CLI, built with the server's own configuration, only to
 * validate the metadata of a client before it is stored (`gatehouse clients add`), exactly as the
 * server will when it loads that client. It never listens, signs or fetches anything; without
 * stored keys yet (the server never started), it gets a throwaway key that is not stored anywhere.
 */
import type Provider from 'oidc-provider';
import type { AuthServerConfig } from '../../../shared/config/load-config.ts';
import type { SqlDatabase } from '../../../shared/storage/sql-database.ts';
import type { UserStore } from '../accounts/user-store.ts';
import { createDocumentHostPolicy } from '../cimd/document-host-policy.ts';
import { FederatedAccounts } from '../federation/federated-accounts.ts';
import { IdJagReplays } from '../id-jag/id-jag-replays.ts';
import { createIdpSigningKeys } from '../id-jag/idp-signing-keys.ts';
import { TrustedIdps } from '../id-jag/trusted-idps.ts';
import type { KeyStore } from '../keys/key-store.ts';
import { activeKey, generateSigningKey, toProviderJwks, toPublicJwks } from '../keys/signing-keys.ts';
import { createProvider } from '../provider/create-provider.ts';

export async function buildValidationProvider(config: AuthServerConfig, database: SqlDatabase, users: UserStore, keyStore: KeyStore): Promise<Provider> {
  const stored = await keyStore.readSigningKeys();
  const keys = stored.length > 0 ? stored : [await generateSigningKey('active')];
  return createProvider({
    config,
    database,
    users,
    jwks: toProviderJwks(keys),
    publicJwks: toPublicJwks(keys),
    signingKid: activeKey(keys)!.jwk.kid,
    cookieKeys: ['unused-by-the-cli'],
    redirectUriPolicy: { allowedRedirectUris: () => new Set(), allowedSchemes: () => new Set(), allowPrivateUseSchemes: config.registration.allowPrivateUseSchemes },
    renderError: async () => {},
    documentHostPolicy: createDocumentHostPolicy(config.clientIdMetadataDocuments),
    metadataFetch: () => Promise.reject(new Error('the CLI fetches nothing')),
    idJag: {
      trustedIdps: new TrustedIdps(database, config.idJag.trustedIdps),
      replays: new IdJagReplays(database),
      accounts: new FederatedAccounts(database, users),
      signingKeysOf: createIdpSigningKeys(() => Promise.reject(new Error('the CLI fetches nothing'))),
    },
  });
}
