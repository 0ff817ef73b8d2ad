/**
 * A client as the admin pages and the CLI show it. Field names follow RFC 7591 §2 client metadata
 * (`client_name`, `token_endpoint_auth_method` once the CLI prints them in snake_case).
 */
import type { ClientSummary } from './client-registry.ts';
import type { TimeFormat } from './time-format.ts';

export function describeClient(client: ClientSummary, time: TimeFormat) {
  return {
    clientId: client.clientId,
    kind: client.kind,
    clientName: client.name,
    redirectUris: client.redirectUris,
    tokenEndpointAuthMethod: client.authMethod,
    createdAt: time(client.createdAt),
    lastUsedAt: time(client.lastUsedAt),
    unused: client.unused,
    /** When an unused registration is deleted (empty: never). */
    expiresAt: time(client.expiresAt),
    /** How many grants the client holds. */
    grants: client.grantCount,
    resourceServer: client.resourceServer,
    upstreamAudiences: client.upstreamAudiences,
    /** A service account (client credentials): its MCP scopes, and whether it is disabled. */
    serviceAccount: client.serviceAccount,
    scopes: client.scopes,
    disabled: client.disabled,
    /** May present enterprise IdPs' identity assertions (ID-JAG, jwt-bearer grant). */
    idJag: client.idJag,
  };
}

export type ClientRow = ReturnType<typeof describeClient>;
