/**
 * A synchronous view of an AllowList, for the one reader that cannot wait for a query:
 * oidc-provider's client metadata validator (`extraClientMetadata.validator`), which applies the
 * redirect URI policy at registration and whenever a stored client is loaded.
 *
 * - Bound: reloaded from the database every `refreshIntervalMs` (default 2 seconds) and right
 *   after each change made through this process, so a change made on another replica or by the
 *   CLI applies here within about 2 seconds (the interval plus one query), and a change made
 *   here applies before the admin page or command that made it answers.
 * - A reload that fails keeps the last good set (the registration that reads it needs the
 *   database anyway) and is reported through `onError`; the next tick tries again.
 * - Reloads may overlap (a tick and a change): a result is applied only when no reload started
 *   later has been applied already, so an older read never replaces a newer one.
 */
import type { AllowList } from './allow-list.ts';

/** Milliseconds between reloads: the "few seconds" a change on another replica takes to apply here. */
export const ALLOW_LIST_REFRESH_MS = 2000;

export interface AllowListSnapshotOptions {
  /** In milliseconds. Default is ALLOW_LIST_REFRESH_MS. */
  refreshIntervalMs?: number;
  /** A reload failed (the last good set stays). */
  onError: (err: unknown) => void;
}

export class AllowListSnapshot {
  readonly #list: AllowList;
  readonly #onError: (err: unknown) => void;
  #current: ReadonlySet<string>;
  #started = 0;
  #applied = 0;
  #timer?: NodeJS.Timeout;
  #stopListening?: () => void;

  /** Loads the list once (failing when that fails), then follows it until `stop()`. */
  static async follow(list: AllowList, options: AllowListSnapshotOptions): Promise<AllowListSnapshot> {
    const snapshot = new AllowListSnapshot(list, options.onError, await list.effective());
    snapshot.#stopListening = list.onChange(() => snapshot.reload());
    snapshot.#timer = setInterval(() => void snapshot.reload(), options.refreshIntervalMs ?? ALLOW_LIST_REFRESH_MS);
    snapshot.#timer.unref();
    return snapshot;
  }

  private constructor(list: AllowList, onError: (err: unknown) => void, initial: ReadonlySet<string>) {
    this.#list = list;
    this.#onError = onError;
    this.#current = initial;
  }

  /** The list as last loaded: never older than the refresh interval plus one query. */
  current(): ReadonlySet<string> {
    return this.#current;
  }

  /** Reads the list again now; a failure is reported and the last good set stays. */
  async reload(): Promise<void> {
    const started = ++this.#started;
    try {
      const values = await this.#list.effective();
      if (started > this.#applied) {
        this.#current = values;
        this.#applied = started;
      }
    } catch (err) {
      this.#onError(err);
    }
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#stopListening?.();
  }
}
