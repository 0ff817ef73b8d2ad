/**
 * The keys an ID-JAG's signature is checked against: the trusted IdP's inline JWK Set, or its
 * `jwks_uri` fetched with the same SSRF-guarded fetch as Client ID Metadata Documents
 * (cimd/create-metadata-fetch.ts: no special-use addresses, checked again after connecting).
 *
 * - Remote sets are jose's createRemoteJWKSet: cached, fetched again at most every
 *   `cooldownDuration` when a `kid` is unknown (key rotation at the IdP), so an attacker
 *   presenting made-up `kid`s cannot make us hammer the IdP.
 * - One key set per (issuer, keys): an administrator who changes an IdP's keys gets a new set.
 *
 * Deliberately not done: choosing keys by `use`/`alg` beyond what jose does (it matches `kid`,
 * `kty` and `alg`); allowing algorithms is the verifier's job (verify-id-jag.ts).
 */
import { createLocalJWKSet, createRemoteJWKSet, customFetch, type JWTVerifyGetKey, type JSONWebKeySet } from 'jose';
import type { TrustedIdp } from './trusted-idps.ts';

export type GuardedFetch = (url: string, init?: RequestInit) => Promise<Response>;

/** Milliseconds a fetched JWKS is trusted before it is fetched again (jose's default is 10 minutes). */
const CACHE_MAX_AGE_MS = 10 * 60_000;
/** Milliseconds between two fetches for an unknown `kid`. */
const COOLDOWN_MS = 30_000;
/** Milliseconds a JWKS fetch may take. */
const TIMEOUT_MS = 5_000;
/** Key sets kept at most (one per trusted IdP in practice). */
const MAX_SETS = 100;

export function createIdpSigningKeys(fetch: GuardedFetch) {
  const sets = new Map<string, JWTVerifyGetKey>();

  return function signingKeysOf(idp: Pick<TrustedIdp, 'issuer' | 'jwksUri' | 'jwks'>): JWTVerifyGetKey {
    const cacheKey = `${idp.issuer}\n${idp.jwksUri ?? JSON.stringify(idp.jwks)}`;
    let keys = sets.get(cacheKey);
    if (!keys) {
      keys = idp.jwksUri
        ? createRemoteJWKSet(new URL(idp.jwksUri), {
          cacheMaxAge: CACHE_MAX_AGE_MS,
          cooldownDuration: COOLDOWN_MS,
          timeoutDuration: TIMEOUT_MS,
          [customFetch]: (url, options) => fetch(url, options as RequestInit),
        })
        : createLocalJWKSet(idp.jwks as JSONWebKeySet);
      if (sets.size >= MAX_SETS) sets.delete(sets.keys().next().value!);
      sets.set(cacheKey, keys);
    }
    return keys;
  };
}
