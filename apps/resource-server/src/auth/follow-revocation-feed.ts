/**
 * Follows the auth-server's revocation feed (`GET <issuer>/oauth/revocations?after=<cursor>`) so
 * this server refuses revoked tokens within seconds, without a call to the auth-server per request.
 *
 * - Polls every `pollInterval`, reading pages until the feed says it is complete; each entry is
 *   applied to the RevocationList once (the cursor is the last `seq` seen).
 * - Fails closed: `assertCurrent()` throws RevocationsUnavailableError unless a complete sync
 *   started no more than `maxStaleness` ago. A request then gets 503 rather than an answer that
 *   may ignore a revocation. Before the first sync (just after start) that is the case too.
 * - A feed with another `feed` id (a new auth-server database), or one whose `latest` is behind
 *   the cursor (a database restored from a backup), is read again from zero into the same list:
 *   what the old feed revoked stays refused until its entries expire. Emptied first, the list
 *   refused nothing while the new feed could not be read (just after a restore, the auth-server
 *   is often restarting) and the last sync still counted as current: revoked grants, users and
 *   keys were accepted for up to `maxStaleness`. Its entries cannot refuse anything else: they
 *   name random ids, or cut off tokens issued before the revocation.
 * - An entry that changes the key set (`keys` after a rotation, `kid` after a retirement) calls
 *   `onKeysChanged`, which reloads the JWKS at once instead of after its cache time.
 * - A response that is not the feed's JSON shape counts as a failed sync, never as "no revocations";
 *   so does a page longer than MAX_PAGE_BYTES, which is not read past that.
 */
import { systemClock, type Clock } from '../../../shared/clock.ts';
import type { Logger } from '../../../shared/logger.ts';
import { readCappedResponse } from '../../../shared/read-capped-response.ts';
import type { RevocationEntry, RevocationFeedPage } from '../../../shared/revocation-entry.ts';
import { RevocationList, type RevokedBy, type TokenMatch } from './revocation-list.ts';

export interface RevocationFeedOptions {
  feedUri: string;
  /** Time between polls, in milliseconds. Default is 2000. */
  pollInterval?: number;
  /** How old the last complete sync may be before tokens are refused with 503, in milliseconds. Default is 30000. */
  maxStaleness?: number;
  /** Timeout for one page fetch, in milliseconds. Default is 5000. */
  timeout?: number;
  onKeysChanged?: () => void;
  logger?: Logger;
  /**
   * Staleness and entry expiry are counted on it (polls run on real timers, so a moved clock
   * makes the copy stale until the next poll). Default is systemClock.
   */
  clock?: Clock;
}

/** This server's copy of the revocation feed is too old to trust (the auth-server is unreachable). */
export class RevocationsUnavailableError extends Error {
  override name = 'RevocationsUnavailableError';
  readonly code = 'ERR_REVOCATIONS_UNAVAILABLE';
}

const MAX_PAGES_PER_SYNC = 1000;
/**
 * Bytes of one feed page read at most. A full page (1000 entries, the auth-server's MAX_PAGE) is
 * about 150 KB: each entry is a 43-character hash and four numbers. 2 MiB leaves room for entries
 * ten times as long (a long `kid`) while a broken or hostile answer cannot hold hundreds of MB on
 * every poll.
 */
export const MAX_PAGE_BYTES = 2 * 1024 * 1024;
const STARTUP_RETRY_MS = 250;

/**
 * Any string is a kind: one a newer auth-server publishes (as `client_sub` once was) refuses
 * nothing here (RevocationList.apply), where refusing the page would stop this server reading the
 * feed, and serving, once its copy went stale.
 */
function isPage(body: unknown): body is RevocationFeedPage {
  const page = body as Partial<RevocationFeedPage> | null;
  return typeof page === 'object' && page !== null && typeof page.feed === 'string' && Array.isArray(page.entries)
    && Number.isSafeInteger(page.next) && Number.isSafeInteger(page.latest) && typeof page.complete === 'boolean'
    && page.entries.every((e: Partial<RevocationEntry>) => Number.isSafeInteger(e.seq) && typeof e.value === 'string'
      && typeof e.kind === 'string' && Number.isSafeInteger(e.issued_before) && Number.isSafeInteger(e.expires_at));
}

export class RevocationFeedFollower {
  readonly #list = new RevocationList();
  readonly #feedUri: string;
  readonly #pollInterval: number;
  readonly #maxStaleness: number;
  readonly #timeout: number;
  readonly #onKeysChanged: () => void;
  readonly #logger?: Logger;
  readonly #clock: Clock;
  #feed?: string;
  #cursor = 0;
  #syncedAt = Number.NEGATIVE_INFINITY;
  #timer?: NodeJS.Timeout;
  #syncing?: Promise<void>;
  #warned = false;
  #stopped = false;
  #startedAt = Number.NEGATIVE_INFINITY;

  constructor(options: RevocationFeedOptions) {
    if (!URL.canParse(options.feedUri)) throw new TypeError('feedUri must be an absolute URL');
    this.#feedUri = options.feedUri;
    this.#pollInterval = options.pollInterval ?? 2000;
    this.#maxStaleness = options.maxStaleness ?? 30_000;
    this.#timeout = options.timeout ?? 5000;
    this.#onKeysChanged = options.onKeysChanged ?? (() => {});
    this.#logger = options.logger;
    this.#clock = options.clock ?? systemClock;
  }

  /** Entries held now (for metrics and tests). */
  get size(): number {
    return this.#list.size;
  }

  /** Throws RevocationsUnavailableError when the copy is older than `maxStaleness`. */
  assertCurrent(): void {
    if (this.#clock.now() - this.#syncedAt > this.#maxStaleness) {
      throw new RevocationsUnavailableError('the revocation list could not be brought up to date');
    }
  }

  /** Which feed entry refuses this token, or undefined (after assertCurrent). */
  refuses(token: TokenMatch): RevokedBy | undefined {
    this.assertCurrent();
    return this.#list.refuses(token);
  }

  /** One sync (every page up to the end); concurrent callers share it. Rejects when it fails. */
  sync(): Promise<void> {
    this.#syncing ??= this.#syncOnce().finally(() => {
      this.#syncing = undefined;
    });
    return this.#syncing;
  }

  /**
   * Syncs, retrying every `STARTUP_RETRY_MS` until it succeeds or `wait` milliseconds have passed
   * (both apps often start together, and the auth-server may not answer yet), then polls until
   * stop(). Never rejects: until a sync succeeds, tokens are refused with 503.
   */
  async start(wait = 0): Promise<void> {
    this.#startedAt = this.#clock.now();
    // A wait on real timers, so its deadline is real time too (a test's clock may stand still).
    const deadline = performance.now() + wait;
    while (!this.#stopped && !(await this.#trySync()) && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(STARTUP_RETRY_MS, Math.max(0, deadline - performance.now()))));
    }
    this.#schedule();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#stopped = true;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#trySync().then(() => this.#schedule()), this.#pollInterval);
    this.#timer.unref();
  }

  /**
   * One sync; true when it succeeded. A failure is logged at warn only once it matters — when the
   * copy has gone stale and tokens are refused — so the auth-server starting a moment later than
   * this server, or one missed poll, is not reported as trouble.
   */
  async #trySync(): Promise<boolean> {
    try {
      await this.sync();
      if (this.#warned) this.#logger?.info('revocation feed readable again: tokens are served');
      this.#warned = false;
      return true;
    } catch (err) {
      const stale = this.#clock.now() - Math.max(this.#syncedAt, this.#startedAt) > this.#maxStaleness;
      if (stale && !this.#warned) {
        this.#logger?.warn({ err, feedUri: this.#feedUri }, 'cannot read the revocation feed: tokens are refused with 503 until it can be read');
        this.#warned = true;
      } else {
        this.#logger?.debug({ err, feedUri: this.#feedUri }, 'revocation feed not readable');
      }
      return false;
    }
  }

  async #syncOnce(): Promise<void> {
    const startedAt = this.#clock.now();
    let keysChanged = false;
    for (let pages = 0; pages < MAX_PAGES_PER_SYNC; pages++) {
      const page = await this.#fetchPage(this.#cursor);
      if (page.feed !== this.#feed || page.latest < this.#cursor) {
        if (this.#feed !== undefined) this.#logger?.warn('the revocation feed was reset (a new or restored auth-server database); reading it again from the start');
        const restart = this.#feed !== undefined && this.#cursor !== 0;
        this.#feed = page.feed;
        this.#cursor = 0;
        keysChanged = true;
        if (restart) continue;
      }
      keysChanged = this.#list.apply(page.entries) || keysChanged;
      this.#cursor = Math.max(this.#cursor, page.next);
      if (page.complete) {
        this.#list.forgetExpired(Math.floor(startedAt / 1000));
        this.#syncedAt = startedAt;
        if (keysChanged) this.#onKeysChanged();
        return;
      }
    }
    throw new Error('the revocation feed did not end');
  }

  async #fetchPage(after: number): Promise<RevocationFeedPage> {
    const url = new URL(this.#feedUri);
    url.searchParams.set('after', String(after));
    const response = await fetch(url, { signal: AbortSignal.timeout(this.#timeout), headers: { accept: 'application/json' }, redirect: 'error' });
    if (!response.ok) throw new Error(`the revocation feed answered ${response.status}`);
    const text = await readCappedResponse(response, MAX_PAGE_BYTES);
    if (text === undefined) throw new Error(`the revocation feed answered a page longer than ${MAX_PAGE_BYTES} bytes`);
    const body: unknown = JSON.parse(text);
    if (!isPage(body)) throw new Error('the revocation feed answered something that is not a feed page');
    return body;
  }
}
