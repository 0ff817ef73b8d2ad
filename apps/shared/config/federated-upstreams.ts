/**
 * `auth_server.federated`: the upstream OpenID providers of federated sign-in, one (the form of
 * DESIGN.md) or a list. Each client secret comes from the environment only, never the file.
 */
import * as z from 'zod';
import { isLoopbackHostname } from '../loopback-hosts.ts';
import { booleanish, environmentName, quoteUrl, scopeList, timerDuration, whenSet, type FieldNote } from './field-schemas.ts';
import type { LoadContext } from './load-context.ts';
import { comparableEmail } from '../email-address.ts';

function upstreamEntry(context: LoadContext) {
  return z.strictObject({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, { error: 'expected a short lowercase id like google' }).optional()
      .meta({ description: 'names the upstream in its redirect URI', default: '"upstream" (one) or derived from the host (several)' } satisfies FieldNote),
    display_name: z.string().min(1).max(60).optional()
      .meta({ description: 'the sign-in button', default: "the issuer's host" } satisfies FieldNote),
    upstream_issuer: z.string().transform((value, ctx) => {
      const url = URL.parse(value);
      if (!url || !['http:', 'https:'].includes(url.protocol) || url.search || url.hash) {
        ctx.addIssue({ code: 'custom', message: `expected the upstream's issuer URL, got ${quoteUrl(value)}` });
        return z.NEVER;
      }
      if (url.protocol === 'http:' && !isLoopbackHostname(url.hostname)) {
        ctx.addIssue({ code: 'custom', message: 'expected an https issuer (plain http only on loopback, for local testing)' });
        return z.NEVER;
      }
      return value;
    }).meta({ description: "the upstream's issuer URL (OpenID Connect Discovery 1.0 §4)" } satisfies FieldNote),
    client_id: z.string().min(1)
      .meta({ description: 'Gatehouse registered at the upstream' } satisfies FieldNote),
    client_secret_env: environmentName.optional()
      .meta({ description: 'the environment variable holding its client secret' } satisfies FieldNote),
    scopes: z.array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/)).default(['openid', 'email', 'profile'])
      .transform((scopes) => (scopes.includes('openid') ? scopes : ['openid', ...scopes]))
      .meta({ description: 'asked of the upstream; openid is always added' } satisfies FieldNote),
    allowed_domains: z.array(z.string().regex(/^[a-z0-9.-]+\.[a-z]{2,}$/i, { error: 'expected domains like example.com' })).default([])
      .transform((domains) => domains.map((d) => d.toLowerCase()))
      .meta({ description: 'with allowed_emails: who may sign in (requires email_verified)' } satisfies FieldNote),
    allowed_emails: z.array(z.email({ error: 'expected email addresses' })).default([])
      .transform((emails) => emails.map((email) => comparableEmail(email.trim())))
      .meta({ description: 'single addresses allowed beside allowed_domains' } satisfies FieldNote),
    new_users: z.enum(['allow', 'pending']).default('allow')
      .meta({ description: 'allow | pending (an admin approves them)' } satisfies FieldNote),
    default_scopes: scopeList.default(['mcp:read'])
      .meta({ description: 'what a new user from this upstream gets' } satisfies FieldNote),
    // Emails compare in lower case (the email claim is lowered too); a subject exactly as written:
    // OIDC Core §2 makes `sub` case-sensitive, and where people choose their own subject, `ROOT`
    // is somebody else than `Root`.
    admin_users: z.array(z.string().min(1)).default([]).transform((users) => users.map((u) => (u.includes('@') ? comparableEmail(u.trim()) : u)))
      .meta({ description: 'verified emails (an entry with @) or upstream subjects that get admin_scopes' } satisfies FieldNote),
    admin_scopes: scopeList.default(['mcp:read', 'mcp:write', 'mcp:admin'])
      .meta({ description: 'what admin_users get' } satisfies FieldNote),
    timeout: timerDuration.default(10)
      .meta({ description: 'each request to the upstream' } satisfies FieldNote),
    // RFC 9700 §4.4.2: each upstream gets its own redirect URI (<issuer>/oauth/callback/<id>).
    legacy_redirect_uri: booleanish.default(false)
      .meta({ description: 'true: keep the shared <issuer>/oauth/callback earlier releases used (one upstream only)' } satisfies FieldNote),
  }).transform((entry, ctx) => {
    const clientSecret = entry.client_secret_env ? context.env[entry.client_secret_env] : undefined;
    if (entry.client_secret_env && !clientSecret) {
      ctx.addIssue({ code: 'custom', path: ['client_secret_env'], message: `the environment variable ${entry.client_secret_env} is not set` });
      return z.NEVER;
    }
    const defaultScopes: string[] = entry.default_scopes;
    const adminScopes: string[] = entry.admin_scopes;
    return {
      id: entry.id,
      displayName: entry.display_name,
      issuer: entry.upstream_issuer,
      clientId: entry.client_id,
      clientSecret,
      scopes: entry.scopes,
      allowedDomains: entry.allowed_domains,
      allowedEmails: entry.allowed_emails,
      newUsers: entry.new_users,
      defaultScopes,
      /** Verified emails (entries with `@`) or upstream subjects that get adminScopes. */
      adminUsers: entry.admin_users,
      adminScopes,
      /** Seconds for each request to the upstream. */
      timeout: entry.timeout,
      /** Send the shared `<issuer>/oauth/callback` instead of `<issuer>/oauth/callback/<id>` (single upstream only). */
      ...whenSet('legacyRedirectUri', entry.legacy_redirect_uri),
    };
  });
}

/** One upstream or a list of them, as a list with ids and display names filled in. */
export function federatedUpstreams(context: LoadContext) {
  const entry = upstreamEntry(context);
  return z.union([entry, z.array(entry).min(1)]).optional().transform((value, ctx) => {
    const entries = value === undefined ? [] : Array.isArray(value) ? value : [value];
    const upstreams = entries.map((upstream) => {
      const host = new URL(upstream.issuer).host;
      return {
        ...upstream,
        id: upstream.id ?? (entries.length === 1 ? 'upstream' : host.replace(/[^a-z0-9]+/gi, '-').toLowerCase().slice(0, 32)),
        displayName: upstream.displayName ?? host,
      };
    });
    if (new Set(upstreams.map((u) => u.id)).size !== upstreams.length) {
      ctx.addIssue({ code: 'custom', message: 'upstream ids must be unique (set `id` on each)' });
      return z.NEVER;
    }
    if (upstreams.length > 1 && upstreams.some((u) => u.legacyRedirectUri)) {
      // RFC 9700 §4.4: several upstreams sharing one redirect URI allow a mix-up attack.
      ctx.addIssue({ code: 'custom', message: 'legacy_redirect_uri is only allowed with a single upstream (several upstreams sharing one redirect URI allow a mix-up attack, RFC 9700 §4.4); register <issuer>/oauth/callback/<id> at each upstream instead' });
      return z.NEVER;
    }
    return upstreams;
  });
}

export type UpstreamConfig = z.output<ReturnType<typeof federatedUpstreams>>[number];
