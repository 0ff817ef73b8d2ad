/**
 * Holds the current oidc-provider instance so signing keys can change while the server runs.
 *
 * oidc-provider reads its keystore once, at construction. Everything else it keeps (clients,
 * grants, sessions, interactions, tokens) lives in the database, so loading new keys means building a
 * new Provider from the same configuration and swapping it in: requests already running finish
 * on the old instance, new ones reach the new one.
 *
 * - `provider` is a stable stand-in for whichever instance is current: property reads go to the
 *   current instance, and its methods run bound to it (oidc-provider keys its internals by
 *   instance). The routes that were given `provider` (sign-in, consent, federation) therefore
 *   always use the current one without knowing about the swap.
 * - `middleware` is what the Koa app mounts in place of `mount(provider)`.
 * - Event listeners belong in `BuildProvider`, so every new instance gets them: one added
 *   through the stand-in reaches only the instance current at that moment.
 * - Key changes are picked up by `reload()` (called after a change made through the admin pages)
 *   and by `watch()`, which asks the key store to poll: the key file's modification time on
 *   SQLite, the keys table on PostgreSQL. So `gatehouse keys rotate`, or a rotation made on
 *   another replica, takes effect here within the poll interval (`signing.reload_interval`).
 */
import type { Context, Next } from 'koa';
import mount from 'koa-mount';
import type Provider from 'oidc-provider';
import { logBackgroundFailure } from '../../../shared/log-background-failure.ts';
import type { Logger } from '../../../shared/logger.ts';
import type { KeyStore } from '../keys/key-store.ts';
import { activeKey, type StoredKey } from '../keys/signing-keys.ts';

export type BuildProvider = (keys: StoredKey[]) => Provider;

type Mounted = (ctx: Context, next: Next) => Promise<unknown>;
const mountProvider = (provider: Provider) => mount(provider) as unknown as Mounted;

// Stages count too: a rotation changes which key signs without changing the set of kids.
const fingerprint = (keys: StoredKey[]) => keys.map((k) => `${k.jwk.kid}:${k.status}`).join(' ');

function findDescriptor(object: object, property: PropertyKey): PropertyDescriptor | undefined {
  for (let o: object | null = object; o; o = Object.getPrototypeOf(o) as object | null) {
    const descriptor = Object.getOwnPropertyDescriptor(o, property);
    if (descriptor) return descriptor;
  }
  return undefined;
}

export class ProviderHolder {
  #current: Provider;
  #mounted: Mounted;
  #keys: string;
  #signingKey: StoredKey;
  readonly #build: BuildProvider;
  readonly #store: KeyStore;
  readonly #logger: Logger;
  #reloading: Promise<void> = Promise.resolve();

  /** The stand-in for the current provider (see the file comment). */
  readonly provider: Provider;

  constructor(build: BuildProvider, keys: StoredKey[], store: KeyStore, logger: Logger) {
    this.#build = build;
    this.#store = store;
    this.#logger = logger;
    this.#current = build(keys);
    this.#mounted = mountProvider(this.#current);
    this.#keys = fingerprint(keys);
    this.#signingKey = activeKey(keys)!;
    const current = () => this.#current;
    this.provider = new Proxy({} as Provider, {
      get(_target, property) {
        const provider = current();
        const descriptor = findDescriptor(provider, property);
        if (descriptor && typeof descriptor.value === 'function' && property !== 'constructor') {
          return (descriptor.value as (...args: unknown[]) => unknown).bind(provider);
        }
        return Reflect.get(provider, property, provider);
      },
      set(_target, property, value) {
        return Reflect.set(current(), property, value, current());
      },
      has(_target, property) {
        return property in current();
      },
    });
  }

  get current(): Provider {
    return this.#current;
  }

  /**
   * The key the current provider signs access tokens with, for tokens this server mints itself
   * in the provider's format (the admin pages' mcp:admin token for the resource server).
   */
  get signingKey(): StoredKey {
    return this.#signingKey;
  }

  /** Koa middleware running the current provider (what `mount(provider)` was). */
  get middleware() {
    return (ctx: Context, next: Next) => this.#mounted(ctx, next);
  }

  /** Rebuilds the provider when the stored keys no longer match the keys in use. */
  reload(): Promise<void> {
    this.#reloading = this.#reloading.then(async () => {
      const keys = await this.#store.readSigningKeys();
      if (keys.length === 0 || fingerprint(keys) === this.#keys) return;
      const provider = this.#build(keys);
      this.#current = provider;
      this.#mounted = mountProvider(provider);
      this.#keys = fingerprint(keys);
      this.#signingKey = activeKey(keys)!;
      this.#logger.info({ keys: this.#keys.split(' ') }, 'signing keys changed: now signing with the active key');
    }).catch((err: unknown) => {
      logBackgroundFailure(this.#logger, err, 'could not load the changed signing keys; keeping the current ones');
    });
    return this.#reloading;
  }

  /** Looks for changed keys every `intervalSeconds`; returns a function that stops it. */
  watch(intervalSeconds: number): () => void {
    return this.#store.watch(intervalSeconds, () => void this.reload());
  }
}
