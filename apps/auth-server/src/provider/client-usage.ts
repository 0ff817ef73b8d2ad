/**
 * When each client last obtained tokens (first and last successful token request), for the
 * client list. Client ID Metadata Document clients are never stored by the provider (it fetches
 * their document), so their name and redirect URIs are kept here too: that is how they appear
 * in the list at all.
 *
 * "Last used" is accurate to a minute (RESOLUTION_MS): a use less than a minute after the one
 * stored changes nothing. This process remembers when it last stored each client's use and sends
 * no statement at all until a minute has passed (a busy client refreshing many times a second
 * would otherwise cost one upsert per token request), except for a metadata-document client,
 * whose row another replica may have deleted with the client; the upsert itself skips a row another
 * replica stamped less than a minute ago. It is one upsert, so replicas recording the same client
 * at once neither fail nor lose the first use; it commits before the token response goes out (a
 * provider middleware awaits it), so a CIMD client that obtained tokens is listed.
 * A use that cannot be stored (the database failing) is logged, and the tokens still go out: they
 * are stored by then, and an error would have the client send its code or refresh token again, a
 * reuse that revokes the grant. Nothing is remembered of a failed write: the client's next token
 * request sends it again.
 */
import type Provider from 'oidc-provider';
import type { Logger } from '../../../shared/logger.ts';
import { systemClock, type Clock } from '../../../shared/clock.ts';
import type { SqlDatabase } from '../../../shared/storage/sql-database.ts';
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

/** How far apart two stored uses of one client are at least, in milliseconds. */
export const RESOLUTION_MS = 60_000;
/** Clients whose last stored use this process remembers; beyond this it starts over. */
const MAX_REMEMBERED = 10_000;

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

const UPSERT = `INSERT INTO client_usage (client_id, kind, client_name, redirect_uris, first_used_at, last_used_at)
  VALUES (@clientId, @kind, @clientName, @redirectUris, @now, @now)
  ON CONFLICT (client_id) DO UPDATE SET last_used_at = excluded.last_used_at, client_name = excluded.client_name,
    redirect_uris = excluded.redirect_uris, kind = excluded.kind
  WHERE excluded.last_used_at >= client_usage.last_used_at + ${RESOLUTION_MS}`;

/**
 * A client's metadata, built once per client object: `metadata()` renames every key of it, which
 * cost about 40 µs of every token request (bench/profile-refresh-grants.ts), and the provider keeps
 * one object per client for as long as its stored metadata stays the same.
 */
const metadataByClient = new WeakMap<object, Record<string, unknown>>();

function metadataOf(client: { metadata(): Record<string, unknown> }): Record<string, unknown> {
  let metadata = metadataByClient.get(client);
  if (!metadata) {
    metadata = client.metadata();
    metadataByClient.set(client, metadata);
  }
  return metadata;
}

export class ClientUsage {
  /** When this process last stored each client's use (epoch ms). */
  readonly #stored = new Map<string, number>();

  /** `clock` stamps each use. */
  constructor(private readonly db: SqlDatabase, private readonly clock: Clock = systemClock) {}

  async record(client: { clientId: string; metadata(): Record<string, unknown> }, now = this.clock.now()): Promise<void> {
    const metadata = metadataOf(client);
    const kind = typeof metadata[CLIENT_KIND] === 'string' ? (metadata[CLIENT_KIND] as string) : 'dcr';
    const described = kind === 'cimd';
    // Not for a metadata-document client, whose row is all that lists it: deleted meanwhile by
    // another replica (`forget`), it would stay off the list, and could not be deleted again,
    // while it held a grant made here (the statement is a no-op while the row is fresh).
    const stored = this.#stored.get(client.clientId);
    if (!described && stored !== undefined && now >= stored && now < stored + RESOLUTION_MS) return;
    await this.db.run(UPSERT, {
      clientId: client.clientId,
      kind,
      clientName: described && typeof metadata.client_name === 'string' ? metadata.client_name : null,
      redirectUris: described && Array.isArray(metadata.redirect_uris) ? JSON.stringify(metadata.redirect_uris) : null,
      now,
    });
    if (this.#stored.size >= MAX_REMEMBERED) this.#stored.clear();
    this.#stored.set(client.clientId, now);
  }

  /** Whether a use of `clientId` is stored, by any replica: one read by primary key. */
  async has(clientId: string): Promise<boolean> {
    return (await this.db.get('SELECT 1 AS used FROM client_usage WHERE client_id = ?', [clientId])) !== undefined;
  }

  async all(): Promise<Map<string, ClientUse>> {
    return new Map((await this.db.all<Row>('SELECT * FROM client_usage')).map((row) => [row.client_id, toUse(row)]));
  }

  async forget(clientId: string): Promise<void> {
    this.#stored.delete(clientId);
    await this.db.run('DELETE FROM client_usage WHERE client_id = ?', [clientId]);
  }

  /**
   * Forgets Client ID Metadata Document clients unused since `before` (epoch ms): none of their
   * grants can outlive the refresh tokens' absolute lifetime. Other clients go with their row.
   */
  async prune(before: number): Promise<number> {
    return (await this.db.run("DELETE FROM client_usage WHERE kind = 'cimd' AND last_used_at < ?", [before])).changes;
  }
}

/**
 * Records the client of every successful token request, before the response goes out: a
 * provider middleware rather than a `grant.success` listener, whose promise nobody awaits.
 * Not in the token's own transaction: the provider's storage of codes and refresh tokens (the
 * adapter) commits before this runs, in a different shape for each grant, and a client_credentials
 * token (a JWT) stores nothing at all; bookkeeping that fails must not turn issued tokens into an
 * error.
 */
export function trackClientUsage(provider: Provider, usage: ClientUsage, logger: Logger): void {
  provider.use(async function recordClientUse(ctx, next) {
    await next();
    const client = ctx.oidc?.client;
    if (ctx.oidc?.route !== 'token' || ctx.status !== 200 || !client) return;
    try {
      await usage.record(client);
    } catch (err) {
      logger.warn({ err, client_id: client.clientId }, 'the client\'s use could not be recorded (the client list may not show it until its next token request); its tokens were issued');
    }
  });
}
