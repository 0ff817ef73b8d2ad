/**
 * When each client last obtained tokens (first and last successful token request), for the
 * client list. Client ID Metadata Document clients are never stored by the provider (it fetches
 * their document), so their name and redirect URIs are kept here too: that is how they appear
 * in the list at all.
 *
 * The write happens on every token request, so it is skipped while the stored time is less than
 * a minute old: "last used" is accurate to a minute.
 */
import type Provider from 'oidc-provider';
import type { Db } from '../../../shared/database.ts';
import { CLIENT_KIND } from '../registration/client-metadata-policy.ts';

export interface ClientUse {
  clientId: string;
  kind: string;
  clientName: string | null;
  redirectUris: string[];
  /** Epoch ms. */
  firstUsedAt: number;
  lastUsedAt: number;
}

interface Row {
  client_id: string;
  kind: string;
  client_name: string | null;
  redirect_uris: string | null;
  first_used_at: number;
  last_used_at: number;
}

const RESOLUTION_MS = 60_000;

function toUse(row: Row): ClientUse {
  return {
    clientId: row.client_id,
    kind: row.kind,
    clientName: row.client_name,
    redirectUris: row.redirect_uris ? (JSON.parse(row.redirect_uris) as string[]) : [],
    firstUsedAt: row.first_used_at,
    lastUsedAt: row.last_used_at,
  };
}

export class ClientUsage {
  readonly #upsert;
  readonly #all;
  readonly #forget;
  readonly #prune;

  constructor(db: Db) {
    this.#upsert = db.prepare(`INSERT INTO client_usage (client_id, kind, client_name, redirect_uris, first_used_at, last_used_at)
      VALUES (@clientId, @kind, @clientName, @redirectUris, @now, @now)
      ON CONFLICT (client_id) DO UPDATE SET last_used_at = excluded.last_used_at, client_name = excluded.client_name,
        redirect_uris = excluded.redirect_uris, kind = excluded.kind
      WHERE excluded.last_used_at >= client_usage.last_used_at + ${RESOLUTION_MS}`);
    this.#all = db.prepare('SELECT * FROM client_usage');
    this.#forget = db.prepare('DELETE FROM client_usage WHERE client_id = ?');
    this.#prune = db.prepare("DELETE FROM client_usage WHERE kind = 'cimd' AND last_used_at < ?");
  }

  record(client: { clientId: string; metadata(): Record<string, unknown> }, now = Date.now()): void {
    const metadata = client.metadata();
    const kind = typeof metadata[CLIENT_KIND] === 'string' ? (metadata[CLIENT_KIND] as string) : 'dcr';
    const described = kind === 'cimd';
    this.#upsert.run({
      clientId: client.clientId,
      kind,
      clientName: described && typeof metadata.client_name === 'string' ? metadata.client_name : null,
      redirectUris: described && Array.isArray(metadata.redirect_uris) ? JSON.stringify(metadata.redirect_uris) : null,
      now,
    });
  }

  all(): Map<string, ClientUse> {
    return new Map((this.#all.all() as Row[]).map((row) => [row.client_id, toUse(row)]));
  }

  forget(clientId: string): void {
    this.#forget.run(clientId);
  }

  /**
   * Forgets Client ID Metadata Document clients unused since `before` (epoch ms): none of their
   * grants can outlive the refresh tokens' absolute lifetime. Other clients go with their row.
   */
  prune(before: number): number {
    return this.#prune.run(before).changes;
  }
}

/** Records the client of every successful token request. */
export function trackClientUsage(provider: Provider, usage: ClientUsage): void {
  provider.on('grant.success', function recordClientUse(ctx) {
    const client = ctx.oidc.client;
    if (client) usage.record(client);
  });
}
