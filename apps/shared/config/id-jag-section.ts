/**
 * `auth_server.id_jag`: Enterprise-Managed Authorization (MCP extension
 * `io.modelcontextprotocol/enterprise-managed-authorization`). The enterprise IdPs whose Identity
 * Assertion JWT Authorization Grants (draft-ietf-oauth-identity-assertion-authz-grant, ID-JAG)
 * Gatehouse accepts at its token endpoint, and the time bounds it applies to them.
 *
 * No IdP is trusted unless listed here or added by an administrator (admin pages, `gatehouse
 * idps add`): without one the jwt-bearer grant is neither offered nor advertised.
 *
 * `trustedIdpEntry` is also how an administrator's entry is checked before it is stored, so the
 * file and the admin pages accept exactly the same IdPs.
 */
import * as z from 'zod';
import { isLoopbackHostname } from '../loopback-hosts.ts';
import { isUsablePublicJwk } from '../public-jwk.ts';
import { duration, quoteUrl, scopeList, type FieldNote } from './field-schemas.ts';

/**
 * Signature algorithms an administrator may allow: asymmetric only. `none` and HS* are never
 * accepted (MCP enterprise-managed authorization §7.4.1: explicit allow-list, never `none`; an
 * HMAC key would have to be a secret shared with the IdP, which a JWKS is not).
 */
export const ID_JAG_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;
export const DEFAULT_ID_JAG_ALGORITHMS: Array<(typeof ID_JAG_ALGORITHMS)[number]> = ['RS256', 'ES256'];

/** What happens to an IdP subject no Gatehouse user is linked to (federation's `new_users`, plus refuse). */
export const NEW_USER_POLICIES = ['refuse', 'pending', 'allow'] as const;

/** The longest URL taken, as the admin page's fields. */
const MAX_URL_LENGTH = 2000;
/**
 * Printable ASCII without the space: all RFC 3986 §2 allows (anything else is percent-encoded).
 * An issuer is compared with `iss` as written, and URL parsing drops CR, LF and tab and encodes
 * other controls, so an entry holding one would show as one URL and act as another.
 */
const VISIBLE_ASCII = /^[\x21-\x7e]+$/;

/** An https URL (plain http only on loopback, for tests and local IdPs), no fragment or user info. */
function httpsUrl(what: string) {
  return z.string().transform((value, ctx) => {
    if (value.length > MAX_URL_LENGTH || !VISIBLE_ASCII.test(value)) {
      // The value is not quoted back: it may hold what a terminal or a page would act on.
      ctx.addIssue({ code: 'custom', message: `expected ${what} as a URL of at most ${MAX_URL_LENGTH} characters, without spaces, control or non-ASCII characters (RFC 3986 §2)` });
      return z.NEVER;
    }
    const url = URL.parse(value);
    if (!url || !['http:', 'https:'].includes(url.protocol) || url.hash || url.username || url.password) {
      ctx.addIssue({ code: 'custom', message: `expected ${what} as an absolute https URL, got ${quoteUrl(value)}` });
      return z.NEVER;
    }
    // MCP enterprise-managed authorization §7.3: metadata and key discovery only over TLS.
    if (url.protocol === 'http:' && !isLoopbackHostname(url.hostname)) {
      ctx.addIssue({ code: 'custom', message: `expected ${what} over https (plain http only on loopback, for local testing)` });
      return z.NEVER;
    }
    return value;
  });
}

const jwkSet = z.object({
  keys: z.array(z.looseObject({
    kty: z.string().meta({ description: 'key type (RFC 7517 §4.1): RSA, EC or OKP' } satisfies FieldNote),
  })).min(1, { error: 'expected at least one key' })
    .meta({ description: 'public JWKs (RFC 7517 §5), as the IdP publishes them' } satisfies FieldNote),
}, { error: 'expected a JWK Set ({ "keys": [...] })' }).transform((set, ctx) => {
  // Public keys only: a private member here would mean the IdP's signing key was pasted.
  if (set.keys.some((key) => 'd' in key || key.kty === 'oct')) {
    ctx.addIssue({ code: 'custom', message: 'expected public keys only (no "d", no symmetric "oct" keys)', params: { secretInput: true } });
    return z.NEVER;
  }
  // Else the IdP was trusted with a key that verifies nothing, and every assertion was refused later.
  const broken = set.keys.findIndex((key) => !isUsablePublicJwk(key));
  if (broken >= 0) {
    ctx.addIssue({ code: 'custom', path: ['keys', broken], message: 'expected a usable public key (members that decode; an RSA modulus of at least 2048 bits)' });
    return z.NEVER;
  }
  return set;
});

export const trustedIdpEntry = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, { error: 'expected a short lowercase id like acme-okta' }).optional()
    .meta({ description: 'names users it creates (<id>-<sub>, or the email the assertion carries) and the IdP in the audit log', default: "derived from the issuer's host" } satisfies FieldNote),
  issuer: httpsUrl('the IdP issuer')
    .meta({ description: 'the `iss` of its ID-JAGs, compared exactly' } satisfies FieldNote),
  jwks_uri: httpsUrl('jwks_uri').optional()
    .meta({ description: 'where its signing keys are (fetched with the SSRF guard, cached); or jwks' } satisfies FieldNote),
  jwks: jwkSet.optional()
    .meta({ description: 'its public signing keys inline (a JWK Set), instead of jwks_uri' } satisfies FieldNote),
  algorithms: z.array(z.enum(ID_JAG_ALGORITHMS, { error: `expected algorithms from ${ID_JAG_ALGORITHMS.join(', ')}` })).min(1).default(DEFAULT_ID_JAG_ALGORITHMS)
    .meta({ description: 'signature algorithms accepted (never none or HS*)' } satisfies FieldNote),
  new_users: z.enum(NEW_USER_POLICIES).default('refuse')
    .meta({ description: 'refuse | pending (an admin approves them) | allow: a subject no user is linked to' } satisfies FieldNote),
  default_scopes: scopeList.default(['mcp:read'])
    .meta({ description: 'what a user it creates may be granted' } satisfies FieldNote),
  allowed_client_ids: z.array(z.string().regex(/^[\x21-\x7e]{1,2048}$/, { error: 'expected client ids of 1 to 2048 characters, without spaces, control or non-ASCII characters' })).default([])
    .meta({ description: 'the clients its ID-JAGs may name; empty: any client allowed the grant' } satisfies FieldNote),
}).transform((entry, ctx) => {
  if ((entry.jwks_uri === undefined) === (entry.jwks === undefined)) {
    ctx.addIssue({ code: 'custom', path: ['jwks_uri'], message: 'expected exactly one of jwks_uri and jwks' });
    return z.NEVER;
  }
  const defaultScopes: string[] = entry.default_scopes;
  return {
    id: entry.id ?? new URL(entry.issuer).host.replace(/[^a-z0-9]+/gi, '-').toLowerCase().replace(/^-+|-+$/g, '').slice(0, 32),
    issuer: entry.issuer,
    jwksUri: entry.jwks_uri,
    jwks: entry.jwks as { keys: Array<Record<string, unknown>> } | undefined,
    algorithms: [...new Set(entry.algorithms)] as string[],
    newUsers: entry.new_users,
    defaultScopes,
    allowedClientIds: entry.allowed_client_ids,
  };
});

export type TrustedIdpConfig = z.output<typeof trustedIdpEntry>;

export const idJagSection = z.strictObject({
  trusted_idps: z.array(trustedIdpEntry).default([])
    .meta({ description: 'enterprise IdPs whose ID-JAGs are accepted (none by default)' } satisfies FieldNote),
  clock_skew: duration.default(30)
    .meta({ description: 'tolerance for exp and iat between the IdP\'s clock and ours' } satisfies FieldNote),
  max_assertion_age: duration.default(600)
    .meta({ description: 'an ID-JAG issued longer ago than this is refused, whatever its exp' } satisfies FieldNote),
}).prefault({}).transform((section, ctx) => {
  const issuers = section.trusted_idps.map((idp) => idp.issuer);
  const ids = section.trusted_idps.map((idp) => idp.id);
  if (new Set(issuers).size !== issuers.length || new Set(ids).size !== ids.length) {
    ctx.addIssue({ code: 'custom', path: ['trusted_idps'], message: 'each trusted IdP needs its own issuer and id' });
    return z.NEVER;
  }
  return {
    trustedIdps: section.trusted_idps,
    /** Seconds of clock difference tolerated on exp and iat. */
    clockSkew: section.clock_skew,
    /** Seconds after its iat that an ID-JAG is refused. */
    maxAssertionAge: section.max_assertion_age,
  };
}).meta({ description: 'enterprise-managed authorization: ID-JAG (jwt-bearer grant)' } satisfies FieldNote);
