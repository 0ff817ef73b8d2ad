/**
 * oidc-provider adapter over the app's database (SQLite or PostgreSQL): every model in one
 * table, keyed by (model, id), the model as a one-letter code for grants, codes and refresh
 * tokens (stored-model.ts). The only module that reads or writes `oidc_models.payload`, the
 * provider's own format; everything else asks model-store.ts, which queries real columns.
 *
 * - Beside the payload, `upsert` writes what others query as columns: grant_id, uid, user_code,
 *   account_id and client_id (a Client row's own id), so "disable user → revoke grants" cannot
 *   silently break when the provider's payload changes in an upgrade. Codes and refresh tokens
 *   leave account and client to their grant's row (FIND_WITH_GRANT).
 * - Expired rows are invisible to `find*` at once and deleted later by the sweeper. Expiry is on
 *   our clock (`expires_at` = our now + the provider's `expiresIn`), so a test that moves the clock
 *   past a token's lifetime sees the provider find nothing, as after a real wait. The provider
 *   still checks `exp` in the payload against its own `Date.now()`; moving our clock back does
 *   not revive a token it considers expired.
 * - `consume` is one conditional UPDATE (`… AND consumed_at IS NULL`): of two requests redeeming
 *   the same code or refresh token at once (two replicas, or two requests in one process that
 *   both found it unconsumed), exactly one changes the row. The other is a reuse the provider
 *   could not see: it is treated as the provider treats a replay it sees (the grant's rows are
 *   deleted and `grant.revoked` is emitted, which the revocation feed and the audit log follow)
 *   and fails with invalid_grant, before anything is issued. A consumed refresh token or code
 *   shrinks to a tombstone in that same statement (what reuse detection needs, see TOMBSTONE_FIELDS).
 * - On PostgreSQL, the consume of a refresh grant's old refresh token, or of a code exchange's
 *   code, is held until the same request saves the new refresh token, and both commit in one
 *   transaction (`consumesHeld`); a code exchange that issues no refresh token saves nothing after
 *   it and commits it alone just before its tokens go out (`commitHeldConsume`). Committed on its
 *   own, the consume spent the token or code even when storing the new token then failed (the
 *   connection lost, a statement timeout): the client was answered 503, retried as told, and the
 *   retry was taken for a replay and ended the grant, though nothing had been issued (RFC 9700
 *   §4.14.2 and RFC 6749 §4.1.2 are about a token or code presented again after tokens were issued).
 * - A grant's end is one transaction: its rows and its revocation feed entry (`recordRevocation`)
 *   commit together, or neither does. oidc-provider ends a grant by itself when a refresh token or
 *   a code is presented again, or a refresh token is revoked at /oauth/revoke (lib/helpers/revoke.js:
 *   each model's `revokeByGrantId` and the Grant's `destroy`, side by side, then `grant.revoked`),
 *   and Gatehouse revokes every grant it can (the provider's `revokeGrantPolicy` keeps a grant only
 *   when an opaque access token is revoked, and Gatehouse issues none). So each of those calls ends
 *   the whole grant with its entry (`endGrant`), whichever runs first; the others find nothing.
 *   A refresh token's `destroy` does the same: the provider destroys one only alongside, or just
 *   before, revoking its grant (reuse detection, /oauth/revoke). Deleted on their own, rows gone
 *   with the entry failing after them (a lost connection, a full disk, the process killed) left
 *   the grant's access tokens valid at the resource server for their whole lifetime, and nothing
 *   for a second attempt to revoke: the replay that should have ended the grant found no token.
 * - An ended browser session (sign-out, or every session of a user whose password was reset or
 *   who was disabled: model-store.ts `deleteSessions`; not the old id of a session the provider
 *   gives a new one, isRotatedSessionId) is not deleted but kept as a tombstone
 *   (`consumed_at` set, payload emptied) until it would have expired, which `find*` never return
 *   and a save never overwrites (SESSION_ENDED, UPSERT_CONFLICT). oidc-provider loads the session
 *   at the start of every request and saves it again at the end (lib/shared/session.js), so a
 *   request in flight when the row was deleted wrote it back: whoever kept requests going with a
 *   stolen session cookie stayed signed in through the password reset meant to evict them.
 * - A client assertion's replay marker (`ReplayDetection`) is written only where no live one is,
 *   so one assertion presented on two replicas at once is accepted once (INSERT_REPLAY_MARKER).
 * - Rows are kept in their stored form (stored-form.ts): bearer ids and client secrets only as
 *   hashes. Every lookup by id hashes the id it is given. `findByUid` (sessions, by their
 *   non-secret uid) cannot put the raw id back: the provider only reads such a session (to check
 *   an interaction's or a token's session binding) and never saves it.
 * - Also here, because they read payloads: the facts the admin pages show about grants and
 *   clients (`readGrantFacts`, `readClientMetadata`), inserting an administrator's client, and
 *   the one-time conversion of rows an earlier version stored in plain.
 */
import Provider, { errors, type Adapter, type AdapterPayload, type KoaContextWithOIDC } from 'oidc-provider';
import { systemClock, type Clock } from '../../../shared/clock.ts';
import { MCP_SCOPES } from '../../../shared/mcp-scopes.ts';
import type { SqlDatabase, SqlDialect, SqlExecutor, SqlValue } from '../../../shared/storage/sql-database.ts';
import { fromStoredPayload, HASHED_ID_MODELS, storedId, toStoredPayload, type StoredColumns } from './stored-form.ts';
import { isHashedClientSecret } from './hashed-client-secrets.ts';
import { sameId } from './prefix-index.ts';
import { modelName, storedModel } from './stored-model.ts';
import { recentClients } from './recent-clients.ts';
import { fromStoredKeys, storedKey } from './stored-payload-keys.ts';

interface Row extends StoredColumns {
  payload: string;
  consumed_at: number | null;
}

const VISIBLE = '(expires_at IS NULL OR expires_at > @now)';
const UPSERT_CONFLICT = `
  ON CONFLICT (model, id) DO UPDATE SET
    payload = excluded.payload, grant_id = excluded.grant_id, uid = excluded.uid,
    user_code = excluded.user_code, account_id = excluded.account_id, client_id = excluded.client_id,
    expires_at = excluded.expires_at,
    consumed_at = COALESCE(excluded.consumed_at, oidc_models.consumed_at)`;
/** Never over an ended session's tombstone (see the header). */
const NOT_OVER_ENDED_SESSION = "WHERE oidc_models.model <> 'Session' OR oidc_models.consumed_at IS NULL";
/**
 * SQLite only: where a new row goes in the table's b-tree. A rowid table appends each row after
 * the last, and space freed inside an older page (a row deleted, or rewritten shorter) is used
 * again only when the whole page empties. Grants and refresh tokens are written in time order and
 * expire in about that order, so appending packs them. Everything else is short-lived
 * (interactions, codes) or rewritten in place (sessions grow with each client authorized,
 * clients): left among grants, each one left a hole in a page that never empties (about 800 B
 * per grant after 10k grants, bench/disk-per-grant.ts). Those rows take a random negative rowid
 * instead (the sign bit set on random()), so they share pages with each other, left of every
 * appended row, where a freed slot is found again by the next random insert and emptied pages
 * are reused. Appended rows take the next positive rowid themselves (SQLite's own choice, the
 * largest + 1, would follow a negative one in a new database). A clash of two random 63-bit
 * rowids fails that one insert (odds ~ rows / 2^63).
 * PostgreSQL reuses freed space in any page (its free space map) and needs none of this.
 */
const APPENDED_MODELS = ['Grant', 'RefreshToken'].map(storedModel);
const UPSERT_UNCONDITIONAL = {
  sqlite: `
  INSERT INTO oidc_models (rowid, model, id, payload, grant_id, uid, user_code, account_id, client_id, consumed_at, expires_at)
  VALUES (CASE WHEN @model IN (${APPENDED_MODELS.map((m) => `'${m}'`).join(', ')}) 
      THEN (SELECT max(0, coalesce(max(rowid), 0)) + 1 FROM oidc_models) ELSE random() | (-9223372036854775807 - 1) END,
    @model, @id, @payload, @grantId, @uid, @userCode, @accountId, @clientId, @consumedAt, @expiresAt)${UPSERT_CONFLICT}`,
  postgres: `
  INSERT INTO oidc_models (model, id, payload, grant_id, uid, user_code, account_id, client_id, consumed_at, expires_at)
  VALUES (@model, @id, @payload, @grantId, @uid, @userCode, @accountId, @clientId, @consumedAt, @expiresAt)${UPSERT_CONFLICT}`,
};
const UPSERT = {
  sqlite: `${UPSERT_UNCONDITIONAL.sqlite} ${NOT_OVER_ENDED_SESSION}`,
  postgres: `${UPSERT_UNCONDITIONAL.postgres} ${NOT_OVER_ENDED_SESSION}`,
};
/**
 * A replay marker (a client assertion's jti, RFC 7523 §3 item 7: used once) is written only where
 * no live one is: oidc-provider checks with `find` and then saves (lib/models/replay_detection.js),
 * so two replicas given one assertion at once could both find nothing. Of two such writes, exactly
 * one changes a row; the other is refused as the provider refuses a replay it sees. Only client
 * assertions write markers here (DPoP, CIBA and client attestation are off).
 */
const INSERT_REPLAY_MARKER = {
  sqlite: `${UPSERT_UNCONDITIONAL.sqlite} WHERE oidc_models.expires_at <= @now`,
  postgres: `${UPSERT_UNCONDITIONAL.postgres} WHERE oidc_models.expires_at <= @now`,
};
const FIND = `SELECT payload, consumed_at, grant_id, account_id, client_id, expires_at FROM oidc_models WHERE model = @model AND id = @id AND ${VISIBLE}`;
/**
 * Codes and refresh tokens are stored without their account and client (GRANT_HOLDS_ACCOUNT):
 * their grant's row holds both, and oidc-provider never gives a token another account or client
 * than its grant's (lib/helpers/grant_common.js copies them from the grant). About 80 bytes less
 * per row; the provider reads the grant next anyway, so its page is already at hand. Rows stored
 * with their own columns by an earlier version keep them. A token whose grant is gone reads with
 * neither, which the provider refuses as invalid_grant, as it would for the missing grant.
 */
const GRANT_HOLDS_ACCOUNT: ReadonlySet<string> = new Set(['AuthorizationCode', 'RefreshToken']);
/**
 * Per model, its name written in the SQL: with the model as a parameter SQLite's plan for the
 * join cost about 30 µs of CPU per find instead of 6 (measured on 1k grants).
 */
const FIND_WITH_GRANT = new Map([...GRANT_HOLDS_ACCOUNT].map((model) => [model, `SELECT t.payload, t.consumed_at, t.grant_id, t.expires_at,
    coalesce(t.account_id, g.account_id) AS account_id, coalesce(t.client_id, g.client_id) AS client_id,
    g.payload AS grant_payload, g.grant_id AS grant_grant_id, g.account_id AS grant_account_id,
    g.client_id AS grant_client_id, g.expires_at AS grant_expires_at
  FROM oidc_models t LEFT JOIN oidc_models g ON g.model = '${storedModel('Grant')}' AND g.id = t.grant_id
  WHERE t.model = '${storedModel(model)}' AND t.id = @id AND (t.expires_at IS NULL OR t.expires_at > @now)`]));
/**
 * The grant row a code or refresh token was read with (FIND_WITH_GRANT), kept for the request that
 * read it: oidc-provider asks for that grant next (lib/helpers/grant_source.js, with nothing in
 * between that writes), and is answered from it instead of a second SELECT (one of the five
 * statements of a refresh grant, bench/refresh-grants.ts). Taken once, by the same request only
 * (keyed by its context), and only while still unexpired on our clock. Both rows come from one
 * statement, so they are one snapshot; what a concurrent revocation changes after it is caught
 * where it always was, by the conditional consume.
 */
interface GrantReadAlong {
  id: string;
  payload: string;
  columns: StoredColumns;
}
const grantsReadAlong = new WeakMap<object, GrantReadAlong>();
/**
 * Per refresh grant or code exchange, the refresh token or code it consumes, until it saves the
 * new refresh token: oidc-provider consumes the old token (lib/actions/grants/refresh_token.js) or
 * the code (lib/actions/grants/authorization_code.js), and then writes nothing but the new refresh
 * token (access tokens are JWTs, stored nowhere) and hands nothing out before it. The conditional
 * consume then runs in the new token's transaction, so it is as strong as ever against a
 * concurrent reuse, and the old token or code is spent exactly when the new one exists. A request
 * that fails before the save never spends it: nothing was issued, and it stays good for the retry.
 * A code exchange that issues no refresh token (a client without the refresh_token grant type)
 * commits it alone from `issueRefreshToken` (create-provider.ts), the provider's last call before
 * it builds the response (lib/helpers/grant_common.js issueTokens).
 */
interface HeldConsume {
  model: string;
  /** Stored id. */
  id: string;
  /** The consume on its own, as when nothing is held. */
  commitAlone(): Promise<void>;
}
const consumesHeld = new WeakMap<object, HeldConsume>();
/** The grant type whose request holds its consume of each model (`consumesHeld`). */
const HELD_BY_GRANT_TYPE: Record<string, string> = {
  RefreshToken: 'refresh_token',
  AuthorizationCode: 'authorization_code',
};

/**
 * Commits on its own the consume request `ctx` holds, if any (`consumesHeld`): for a code exchange
 * that saves no refresh token, before its access token goes out. Throws as the consume would
 * (invalid_grant for a code redeemed concurrently, 503 for the database out of reach).
 */
export async function commitHeldConsume(ctx: object): Promise<void> {
  const held = consumesHeld.get(ctx);
  if (!held) return;
  consumesHeld.delete(ctx);
  await held.commitAlone();
}
/** Per request, the grants it is ending (`endGrant`). */
const grantsEnding = new WeakMap<object, Map<string, Promise<void>>>();

interface RowWithGrant extends Row {
  grant_payload: string | null;
  grant_grant_id: string | null;
  grant_account_id: string | null;
  grant_client_id: string | null;
  grant_expires_at: number | null;
}

const FIND_BY_UID = `SELECT payload, consumed_at FROM oidc_models WHERE model = @model AND uid = @uid AND ${VISIBLE}`;
const FIND_BY_USER_CODE = `SELECT payload, consumed_at FROM oidc_models WHERE model = @model AND user_code = @userCode AND ${VISIBLE}`;
const CONSUME = 'UPDATE oidc_models SET consumed_at = @now WHERE model = @model AND id = @id AND consumed_at IS NULL';

/**
 * What a consumed refresh token or authorization code keeps of its payload: what oidc-provider
 * reads of it before it sees `consumed`, so that presenting it again still reaches the reuse
 * branch and revokes the grant (RFC 6749 §4.1.2 for codes, RFC 9700 §4.14.2 for refresh tokens).
 * - Refresh token (lib/actions/grants/refresh_token.js): expiry, the scope check, sender
 *   bindings. About 40 bytes instead of about 250.
 * - Authorization code (lib/actions/grants/authorization_code.js): expiry, then PKCE and the
 *   redirect_uri are checked before the code is consumed, so a replay revokes the grant only
 *   when it carries the right verifier and redirect_uri: the challenge and the redirect_uri stay.
 *   About 150 bytes instead of about 310; a code's row lives until the sweep after its expiry.
 * - Both: the session binding, only when the token expires with its session (checkSessionBinding
 *   in lib/models/token_helpers.js reads it in `find`).
 * The rest (claims, resource, acr, amr, iat, nonce, …) is never read again. Kind, grant, account
 * and client stay in their columns.
 */
const TOMBSTONE_FIELDS: Record<string, string[]> = {
  RefreshToken: ['exp', 'scope', 'expiresWithSession', 'x5t#S256', 'jkt', 'attestationJkt'],
  AuthorizationCode: ['exp', 'codeChallenge', 'codeChallengeMethod', 'redirectUri', 'expiresWithSession', 'attestationJkt'],
};
/**
 * PostgreSQL: a payload as `jsonb`, with each escaped U+0000 (`\u0000`, not an escaped backslash
 * followed by `u0000`) read as U+FFFD. PostgreSQL's JSON functions, `json` and `jsonb` alike, refuse
 * a document that holds `\u0000` anywhere ("unsupported Unicode escape sequence"), since text cannot
 * hold the character, and JSON.stringify writes one for any U+0000 in a value: an authorization
 * request's `nonce=%00` put one into its code and refresh tokens, and their consume then failed
 * (a 500 at /oauth/token on PostgreSQL only; SQLite's JSON functions take it). The tombstone keeps
 * none of the values that can hold one (TOMBSTONE_FIELDS), so what it keeps is unchanged. Lone
 * surrogates, jsonb's other refusal, cannot reach these rows: query and form parameters are
 * decoded from UTF-8, which cannot carry one.
 */
const POSTGRES_PAYLOAD_AS_JSONB = String.raw`regexp_replace(payload, '(?<!\\)((?:\\\\)*)\\u0000', '\1\\ufffd', 'g')::jsonb`;

/**
 * The consume of a refresh token or code, shrinking its payload to its tombstone in the same
 * statement (the fields under their stored names, stored-payload-keys.ts). SQLite: json_patch
 * onto '{}' drops the fields the token does not have (RFC 7396: null removes).
 */
function consumeToTombstone(dialect: SqlDialect, names: string[]): string {
  const fields = names.map(storedKey);
  const [boundToSession, sessionUid] = [storedKey('expiresWithSession'), storedKey('sessionUid')];
  if (dialect === 'sqlite') {
    return `UPDATE oidc_models SET consumed_at = @now,
    payload = json_patch('{}', json_object(${fields.map((f) => `'${f}', payload -> '$."${f}"'`).join(', ')},
      '${sessionUid}', CASE WHEN payload ->> '$.${boundToSession}' THEN payload -> '$.${sessionUid}' END))
    WHERE model = @model AND id = @id AND consumed_at IS NULL`;
  }
  return `UPDATE oidc_models SET consumed_at = @now,
    payload = (SELECT jsonb_strip_nulls(jsonb_build_object(${fields.map((f) => `'${f}', p -> '${f}'`).join(', ')},
      '${sessionUid}', CASE WHEN p ->> '${boundToSession}' = 'true' THEN p -> '${sessionUid}' END))::text
      FROM (SELECT ${POSTGRES_PAYLOAD_AS_JSONB} AS p) AS stored)
    WHERE model = @model AND id = @id AND consumed_at IS NULL`;
}
const CONSUME_TO_TOMBSTONE = Object.fromEntries((['sqlite', 'postgres'] as const).map((dialect) => [dialect,
  Object.fromEntries(Object.entries(TOMBSTONE_FIELDS).map(([model, fields]) => [model, consumeToTombstone(dialect, fields)]))])) as Record<SqlDialect, Record<string, string | undefined>>;
const GRANT_OF = 'SELECT grant_id FROM oidc_models WHERE model = @model AND id = @id';
const DESTROY = 'DELETE FROM oidc_models WHERE model = @model AND id = @id';
/**
 * A session's end: a tombstone in place of the row (see the header), kept until its expiry. Its
 * `uid` goes: the session that takes over from it at a sign-in or consent (a new id, the same
 * uid) is the one `findByUid` must find.
 */
export const SESSION_ENDED = "consumed_at = @now, payload = '{}', uid = NULL";
/**
 * Moves a live session's sign-in time (`loginTs`, epoch seconds) to `loginTs`: the one session
 * kept when a user's sessions are ended (model-store.ts `deleteSessions`), whose holder has just
 * proved the account is theirs, must not count as signed in before that end.
 */
export async function moveSessionSignIn(tx: SqlExecutor, storedSessionId: string, loginTs: number): Promise<void> {
  const payload = tx.dialect === 'sqlite'
    ? "json_set(payload, '$.loginTs', @loginTs)"
    : `(${POSTGRES_PAYLOAD_AS_JSONB} || jsonb_build_object('loginTs', @loginTs::bigint))::text`;
  await tx.run(`UPDATE oidc_models SET payload = ${payload} WHERE model = 'Session' AND id = @id AND consumed_at IS NULL`, { id: storedSessionId, loginTs });
}
const END_SESSION = `UPDATE oidc_models SET ${SESSION_ENDED} WHERE model = 'Session' AND id = @id AND consumed_at IS NULL`;
const GRANT = storedModel('Grant');
const END_GRANT = `DELETE FROM oidc_models WHERE (${sameId('grant_id', '@grantId')}) OR (model = '${GRANT}' AND id = @grantId) RETURNING model`;

/** The error detail oidc-provider gives a replay it detects itself (the audit log keys on it). */
const REUSE_DETAIL: Record<string, string> = {
  RefreshToken: 'refresh token already used',
  AuthorizationCode: 'authorization code already consumed',
};

function toPayload(row: Pick<Row, 'payload' | 'consumed_at'> | undefined, model: string): AdapterPayload | undefined {
  if (!row || (model === 'Session' && row.consumed_at !== null)) return undefined;
  const payload = JSON.parse(row.payload) as AdapterPayload;
  if (row.consumed_at !== null) payload.consumed = row.consumed_at;
  return payload;
}

/**
 * Whether destroying session `id` is the provider giving the request's session a new id (at a
 * sign-in or consent, lib/models/session.js `resetIdentifier`, then `save`), not ending it: the
 * person goes on under the new id, so nothing is evicted that a tombstone must keep out, and a
 * tombstone per consent would hold about 200 bytes per grant for the session's whole lifetime.
 */
function isRotatedSessionId(id: string): boolean {
  const session = (currentContext()?.oidc as { session?: { oldId?: string } } | undefined)?.session;
  return session?.oldId === id;
}

/**
 * The request being served, if any: oidc-provider keeps it in an AsyncLocalStorage around its
 * routes (`Provider.ctx`, lib/provider.js). The adapter's interface carries no context.
 */
function currentContext(): KoaContextWithOIDC | undefined {
  return (Provider as unknown as { ctx?: KoaContextWithOIDC }).ctx;
}

/**
 * The longest a row is kept, in seconds (ten years): far beyond any lifetime Gatehouse gives. A
 * client assertion's replay marker lives until the assertion's `exp`, which RFC 7519 lets be
 * fractional and of any size: the provider's `expiresIn` of 300.5 or 1e20 could not be stored in
 * the integer column (a 500 at /oauth/token for whoever held the client's key). Rounded up, capped.
 */
const LONGEST_EXPIRY = 10 * 365 * 24 * 3600;

/**
 * Records a grant's revocation where verifiers learn of it (the revocation feed), in the
 * transaction that deletes the grant.
 */
export type RecordGrantRevocation = (grantId: string, tx: SqlExecutor) => Promise<void>;

/**
 * Returns the adapter class to pass as oidc-provider's `adapter` option. `recordRevocation` is left
 * out only where no token is ever issued (the CLI's validation provider) and by tests of storage alone.
 */
export function createDatabaseAdapter(db: SqlDatabase, clock: Clock = systemClock, recordRevocation?: RecordGrantRevocation): new (model: string) => Adapter {
  const now = () => clock.epochSeconds();
  /** What VISIBLE says in SQL, for a row read earlier: unexpired on our clock. */
  const visible = (expiresAt: number | null) => expiresAt === null || Number(expiresAt) > now();
  const clients = recentClients<Row>(db);

  /**
   * Ends a grant (see the header): deletes it and every row carrying its id, and records its
   * revocation, in one transaction, written only when the grant row was there. The calls the
   * provider makes side by side for one grant in one request share that transaction: one entry,
   * one connection, and no call left running after the request failed.
   */
  function endGrant(grantId: string): Promise<void> {
    const ctx = currentContext();
    const ending = ctx && (grantsEnding.get(ctx) ?? grantsEnding.set(ctx, new Map()).get(ctx)!);
    let ended = ending?.get(grantId);
    if (!ended) {
      ended = db.transaction(async (tx) => {
        const removed = await tx.all<{ model: string }>(END_GRANT, { grantId });
        if (recordRevocation && removed.some((row) => row.model === GRANT)) await recordRevocation(grantId, tx);
      });
      ending?.set(grantId, ended);
    }
    return ended;
  }

  /** The grant of a stored row (its model and id as stored), if it has one. */
  async function grantOf(model: string, id: string): Promise<string | null | undefined> {
    return (await db.get<{ grant_id: string | null }>(GRANT_OF, { model, id }))?.grant_id;
  }

  /**
   * A code or refresh token someone else consumed between our read and our consume: revoke its
   * grant as oidc-provider does for a replay (lib/helpers/revoke.js deletes the grant's rows and
   * emits `grant.revoked`), then refuse. When the row is already gone, a concurrent replay
   * revoked the grant first.
   */
  async function refuseConcurrentReuse(model: string, id: string): Promise<never> {
    const grantId = await grantOf(storedModel(model), id);
    if (grantId) {
      await endGrant(grantId);
      const ctx = currentContext();
      ctx?.oidc?.provider.emit('grant.revoked', ctx, grantId);
    }
    throw new errors.InvalidGrant(REUSE_DETAIL[model] ?? `${model} already consumed`);
  }

  /** The consume of a code or refresh token (`id` stored), committed on its own. */
  async function consumeNow(model: string, id: string): Promise<void> {
    const consume = CONSUME_TO_TOMBSTONE[db.dialect][model] ?? CONSUME;
    const { changes } = await db.run(consume, { model: storedModel(model), id, now: now() });
    if (changes === 0) await refuseConcurrentReuse(model, id);
  }

  /**
   * Holds the consume of refresh token or code `id` (stored) for this request's save of a new
   * refresh token, when the request is the refresh grant or code exchange that redeems it; false
   * when it must be written now.
   */
  function holdConsume(model: string, id: string): boolean {
    // PostgreSQL only: a database over the network is what restarts or fails over between the two
    // statements. On SQLite (a local file; only a full disk fails there) the transaction cost every
    // refresh grant a fifth of its throughput (bench/refresh-grants.ts: 0.71 of the bare provider,
    // 0.60 with it), against the group commit the two writes share otherwise.
    if (db.dialect !== 'postgres') return false;
    const ctx = currentContext();
    const grantType = HELD_BY_GRANT_TYPE[model];
    if (!grantType || ctx?.oidc?.route !== 'token' || ctx.oidc.params?.grant_type !== grantType) return false;
    consumesHeld.set(ctx, { model, id, commitAlone: () => consumeNow(model, id) });
    return true;
  }

  /** The consume this request holds, once. */
  function takeHeldConsume(): HeldConsume | undefined {
    const ctx = currentContext();
    const held = ctx && consumesHeld.get(ctx);
    if (held) consumesHeld.delete(ctx!);
    return held;
  }

  /** Keeps the grant a code or refresh token was read with, for this request's Grant.find. */
  function keepGrantReadAlong(row: RowWithGrant): void {
    const ctx = currentContext();
    if (!ctx || row.grant_id === null || row.grant_payload === null) return;
    grantsReadAlong.set(ctx, {
      id: row.grant_id,
      payload: row.grant_payload,
      columns: { grant_id: row.grant_grant_id, account_id: row.grant_account_id, client_id: row.grant_client_id, expires_at: row.grant_expires_at },
    });
  }

  /** The grant this request read along with its code or refresh token, once, if `id` and still visible. */
  function takeGrantReadAlong(id: string): GrantReadAlong | undefined {
    const ctx = currentContext();
    const readAlong = ctx && grantsReadAlong.get(ctx);
    if (!readAlong) return undefined;
    grantsReadAlong.delete(ctx);
    return readAlong.id === id && visible(readAlong.columns.expires_at) ? readAlong : undefined;
  }

  return class DatabaseAdapter implements Adapter {
    /** The model column's value for this model (stored-model.ts). */
    private readonly stored: string;

    constructor(private readonly model: string) {
      this.stored = storedModel(model);
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
      const replayMarker = this.model === 'ReplayDetection';
      const expiresAt = typeof expiresIn === 'number' ? Math.ceil(now() + Math.min(expiresIn, LONGEST_EXPIRY)) : null;
      const values = {
        model: this.stored,
        id: storedId(this.model, id),
        payload: JSON.stringify(toStoredPayload(this.model, payload, expiresAt)),
        grantId: payload.grantId ?? null,
        uid: payload.uid ?? null,
        userCode: payload.userCode ?? null,
        accountId: GRANT_HOLDS_ACCOUNT.has(this.model) && payload.grantId ? null : payload.accountId ?? null,
        clientId: this.model === 'Client' ? id : GRANT_HOLDS_ACCOUNT.has(this.model) && payload.grantId ? null : payload.clientId ?? null,
        consumedAt: typeof payload.consumed === 'number' ? payload.consumed : null,
        expiresAt,
        ...(replayMarker ? { now: now() } : {}),
      };
      const consumed = this.model === 'RefreshToken' ? takeHeldConsume() : undefined;
      if (consumed) return this.saveInPlaceOf(consumed, values);
      const write = () => db.run((replayMarker ? INSERT_REPLAY_MARKER : UPSERT)[db.dialect], values);
      const { changes } = this.model === 'Client' ? await clients.change(values.id, write) : await write();
      if (replayMarker && changes === 0) throw new errors.InvalidClientAuth('client assertion tokens must only be used once');
    }

    /**
     * A refresh token stored in the transaction that consumes the refresh token or code it is
     * issued for (`consumesHeld`). When that was consumed by someone else meanwhile, nothing is
     * written and it is refused as a concurrent reuse, as a consume of its own was.
     */
    private async saveInPlaceOf(consumed: HeldConsume, values: Record<string, SqlValue>): Promise<void> {
      const reused = await db.transaction(async (tx) => {
        const { changes } = await tx.run(CONSUME_TO_TOMBSTONE[db.dialect][consumed.model]!, { model: storedModel(consumed.model), id: consumed.id, now: now() });
        if (changes === 0) return true;
        await tx.run(UPSERT[db.dialect], values);
        return false;
      });
      if (reused) await refuseConcurrentReuse(consumed.model, consumed.id);
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      if (this.model === 'Client') return this.findClient(id);
      if (this.model === 'Grant') {
        const readAlong = takeGrantReadAlong(id);
        if (readAlong) return fromStoredPayload('Grant', id, JSON.parse(readAlong.payload) as AdapterPayload, readAlong.columns);
      }
      const row = await db.get<RowWithGrant>(FIND_WITH_GRANT.get(this.model) ?? FIND, { model: this.stored, id: storedId(this.model, id), now: now() });
      const payload = toPayload(row, this.model);
      if (row && GRANT_HOLDS_ACCOUNT.has(this.model)) keepGrantReadAlong(row);
      return payload && fromStoredPayload(this.model, id, payload, row!);
    }

    /**
     * A client. For a refresh grant, from what was read within CLIENT_FRESH_MS (recent-clients.ts),
     * still unexpired on our clock; for every other request (client credentials, authorization,
     * registration management), from the database.
     */
    private async findClient(id: string): Promise<AdapterPayload | undefined> {
      const read = () => db.get<Row>(FIND, { model: this.stored, id, now: now() });
      const oidc = currentContext()?.oidc;
      const refreshing = oidc?.route === 'token' && oidc.params?.grant_type === 'refresh_token';
      const row = refreshing ? await clients.read(id, clock.now(), read) : await read();
      if (!row || !visible(row.expires_at)) return undefined;
      const payload = toPayload(row, this.model);
      return payload && fromStoredPayload(this.model, id, payload, row);
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return toPayload(await db.get<Row>(FIND_BY_UID, { model: this.stored, uid, now: now() }), this.model);
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      return toPayload(await db.get<Row>(FIND_BY_USER_CODE, { model: this.stored, userCode, now: now() }), this.model);
    }

    async consume(id: string): Promise<void> {
      const stored = storedId(this.model, id);
      if (!holdConsume(this.model, stored)) await consumeNow(this.model, stored);
    }

    async destroy(id: string): Promise<void> {
      const stored = storedId(this.model, id);
      if (this.model === 'Grant') return endGrant(id);
      if (this.model === 'RefreshToken') {
        // Its grant ends with it (see the header).
        const grantId = await grantOf(this.stored, stored);
        if (grantId) return endGrant(grantId);
      }
      if (this.model === 'Session' && !isRotatedSessionId(id)) await db.run(END_SESSION, { id: stored, now: now() });
      else if (this.model === 'Client') await clients.change(stored, () => db.run(DESTROY, { model: this.stored, id: stored }));
      else await db.run(DESTROY, { model: this.stored, id: stored });
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await endGrant(grantId);
    }
  };
}

/** What a grant's payload says, for the admin pages. */
export interface GrantFacts {
  /** Resource scopes and OpenID scopes granted. */
  scopes: string[];
  /** Epoch seconds (the provider's `iat`). */
  issuedAt: number;
}

interface GrantPayload {
  iat: number;
  openid?: { scope?: string };
  resources?: Record<string, string>;
}

/** Ids per statement: far below both engines' limit on bound values. */
const IDS_PER_QUERY = 500;

async function payloadsOf(db: SqlExecutor, model: string, ids: readonly string[]): Promise<Map<string, unknown>> {
  const found = new Map<string, unknown>();
  for (let start = 0; start < ids.length; start += IDS_PER_QUERY) {
    const chunk = ids.slice(start, start + IDS_PER_QUERY);
    const rows = await db.all<{ id: string; payload: string }>(
      `SELECT id, payload FROM oidc_models WHERE model = ? AND id IN (${chunk.map(() => '?').join(', ')})`,
      [storedModel(model), ...chunk],
    );
    for (const row of rows) found.set(row.id, JSON.parse(row.payload));
  }
  return found;
}

/** Scopes and issue time of the given grants (those still stored). */
export async function readGrantFacts(db: SqlExecutor, grantIds: readonly string[]): Promise<Map<string, GrantFacts>> {
  const facts = new Map<string, GrantFacts>();
  for (const [id, value] of await payloadsOf(db, 'Grant', grantIds)) {
    const payload = fromStoredKeys(value as Record<string, unknown>) as unknown as GrantPayload;
    const scopes = new Set<string>();
    for (const scope of Object.values(payload.resources ?? {}).flatMap((s) => s.split(' '))) if (scope) scopes.add(scope);
    // An MCP scope is granted for the resource: one in the OpenID part was put there by consent
    // before 2026-12 whether the user ticked it or had it (consent-step.ts), never granted.
    for (const scope of (payload.openid?.scope ?? '').split(' ')) if (scope && !(MCP_SCOPES as readonly string[]).includes(scope)) scopes.add(scope);
    facts.set(id, { scopes: [...scopes], issuedAt: payload.iat });
  }
  return facts;
}

/** The stored metadata (RFC 7591 names, secrets hashed) of the given clients. */
export async function readClientMetadata(db: SqlExecutor, clientIds: readonly string[]): Promise<Map<string, Record<string, unknown>>> {
  return (await payloadsOf(db, 'Client', clientIds)) as Map<string, Record<string, unknown>>;
}

/**
 * Stores a client an administrator created (metadata already validated, secret already hashed);
 * false when a client with this id exists. One statement, so two replicas cannot both create it.
 */
export async function insertClient(db: SqlExecutor, clientId: string, metadata: Record<string, unknown>): Promise<boolean> {
  const { changes } = await db.run(
    `INSERT INTO oidc_models (model, id, payload, client_id) VALUES ('Client', ?, ?, ?) ON CONFLICT (model, id) DO NOTHING`,
    [clientId, JSON.stringify(toStoredPayload('Client', metadata as AdapterPayload)), clientId],
  );
  return changes === 1;
}

/** A client's stored metadata before and after a change (changeClientMetadata). */
export interface ClientMetadataChange {
  before: Record<string, unknown>;
  after: Record<string, unknown>;
}

/**
 * Changes the metadata of a client an administrator created: `change` gets the stored metadata
 * and returns the new one (already validated, secret already hashed), or throws to change
 * nothing. Read and written in one transaction, the row locked on PostgreSQL (SQLite's
 * `BEGIN IMMEDIATE` admits one writer at a time): two changes made at once on two replicas, or
 * on a replica and the CLI, apply one after the other, the second to what the first wrote. Read
 * first and written back later, the second wrote the metadata it read before the first, undoing
 * it (a service account disabled on one replica was enabled again by a scope change on the other).
 * `publish` runs in the same transaction once the metadata is written, so what the caller records
 * about the change (a revocation feed entry) commits with it or not at all. Undefined when there
 * is no such client.
 */
export async function changeClientMetadata(
  db: SqlDatabase,
  clientId: string,
  change: (stored: Record<string, unknown>) => Record<string, unknown>,
  publish: (changed: ClientMetadataChange, tx: SqlExecutor) => Promise<void> = async () => {},
): Promise<ClientMetadataChange | undefined> {
  const lock = db.dialect === 'postgres' ? ' FOR UPDATE' : '';
  return recentClients(db).change(clientId, () => db.transaction(async (tx) => {
    const row = await tx.get<{ payload: string }>(`SELECT payload FROM oidc_models WHERE model = 'Client' AND id = ?${lock}`, [clientId]);
    if (!row) return undefined;
    const before = JSON.parse(row.payload) as Record<string, unknown>;
    const after = change(before);
    await tx.run("UPDATE oidc_models SET payload = ? WHERE model = 'Client' AND id = ?", [JSON.stringify(toStoredPayload('Client', after as AdapterPayload)), clientId]);
    await publish({ before, after }, tx);
    return { before, after };
  }));
}

/** Whether a stored row still holds something an earlier version kept in plain. */
function isPlain(model: string, payload: AdapterPayload): boolean {
  if (HASHED_ID_MODELS.has(model)) return payload.jti !== undefined;
  if (model === 'Interaction') return payload.session !== undefined && 'cookie' in payload.session;
  if (model === 'Client') return typeof payload.client_secret === 'string' && !isHashedClientSecret(payload.client_secret);
  return false;
}

/**
 * Rewrites every row still in an earlier version's plain form into its stored form (hashed id,
 * no `jti`, no session id, hashed client secret); returns how many. Reads every candidate row:
 * meant to run once per database (hash-stored-secrets.ts keeps the record), inside its transaction.
 */
export async function convertPlainRows(tx: SqlExecutor): Promise<number> {
  const models = [...HASHED_ID_MODELS, 'Interaction', 'Client'];
  const rows = await tx.all<{ model: string; id: string; payload: string }>(
    `SELECT model, id, payload FROM oidc_models WHERE model IN (${models.map(() => '?').join(', ')})`,
    models.map(storedModel),
  );
  let converted = 0;
  for (const row of rows) {
    const payload = JSON.parse(row.payload) as AdapterPayload;
    const model = modelName(row.model);
    if (!isPlain(model, payload)) continue;
    await tx.run('UPDATE oidc_models SET id = @newId, payload = @payload WHERE model = @model AND id = @id', {
      model: row.model, id: row.id, newId: storedId(model, row.id), payload: JSON.stringify(toStoredPayload(model, payload)),
    });
    converted += 1;
  }
  return converted;
}
