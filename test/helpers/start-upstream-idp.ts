/**
 * A real upstream OpenID provider for federated sign-in tests: oidc-provider with its built-in
 * development login and consent pages (any password), users given as login → claims. It listens
 * first, so its issuer is known; `allowClient` then registers Gatehouse's callback(s).
 *
 * `requests` lists every request it served (`GET /token`…), so a test can tell that a code was
 * never redeemed. With `issParameter: false` it behaves like an upstream that predates RFC 9207:
 * its metadata does not advertise `authorization_response_iss_parameter_supported` and its
 * authorization responses carry no `iss` (oidc-provider always sends it, so it is removed from the
 * redirect on the way out).
 *
 * With `clock`, a sign-in at the upstream is stamped on that clock (the session's `auth_time`)
 * instead of the machine's, so a test moves both sides' time together. Setting `passesOnSession`
 * makes it an upstream that ignores `prompt` and `max_age` and answers from its SSO session,
 * with the `auth_time` of the sign-in that started it (OIDC Core §3.1.2.1 says SHOULD).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';
import { generateSigningKey } from '../../apps/auth-server/src/keys/signing-keys.ts';
import type { Clock } from '../../apps/shared/clock.ts';

export interface UpstreamUser {
  email?: string;
  email_verified?: boolean;
  /**
   * The subject asserted for this login, when not the login itself: one a login form cannot
   * carry, such as a lone surrogate (a form encodes it as U+FFFD; the ID token's JSON keeps the
   * escape `\ud800`).
   */
  sub?: string;
}

export interface UpstreamIdpOptions {
  /** RFC 9207 support (advertised, and `iss` in authorization responses). Default true. */
  issParameter?: boolean;
  /** What a sign-in at the upstream is stamped with (`auth_time`). Default: the machine's clock. */
  clock?: Clock;
  /**
   * State `auth_time` in every ID token (the client's `require_auth_time`), as some upstreams do.
   * Default false: only when asked (a max_age), as oidc-provider and Google do by default.
   */
  statesAuthTime?: boolean;
  /**
   * The loopback address it listens on and names in its issuer. Default 127.0.0.1. Another one
   * (127.0.0.2) is another host to a browser: cookies are kept per host, not per port, and this
   * upstream's session cookie (`_session`) has the name of Gatehouse's on an http issuer, so on one
   * host each replaces the other's.
   */
  host?: string;
}

export interface UpstreamIdp {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** `METHOD /path` of every request served, in order. */
  requests: string[];
  /** Ignore `prompt` and `max_age` in authorization requests, answering from the SSO session. */
  passesOnSession: boolean;
  allowClient(redirectUris: string | string[]): Promise<void>;
  close(): Promise<void>;
}

export async function startUpstreamIdp(users: Record<string, UpstreamUser>, options: UpstreamIdpOptions = {}): Promise<UpstreamIdp> {
  const requests: string[] = [];
  const record = (req: IncomingMessage) => requests.push(`${req.method} ${new URL(req.url!, 'http://x').pathname}`);
  const server: Server = createServer((_req, res) => {
    res.statusCode = 503;
    res.end();
  });
  server.prependListener('request', record);
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const issuer = `http://${host}:${(server.address() as AddressInfo).port}`;
  const clientId = 'gatehouse';
  const clientSecret = 'upstream-client-secret-for-tests';

  const idp: UpstreamIdp = {
    issuer,
    clientId,
    clientSecret,
    requests,
    passesOnSession: false,
    async allowClient(redirectUris) {
      const key = await generateSigningKey('active');
      const provider = new Provider(issuer, {
        clients: [{ client_id: clientId, client_secret: clientSecret, redirect_uris: [redirectUris].flat(), token_endpoint_auth_method: 'client_secret_post', ...(options.statesAuthTime ? { require_auth_time: true } : {}) }],
        jwks: { keys: [key.jwk] },
        scopes: ['openid', 'email', 'profile'],
        claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
        cookies: { keys: ['upstream-test-cookie-key'] },
        pkce: { required: () => true },
        features: { devInteractions: { enabled: true } },
        async findAccount(_ctx, sub) {
          const [login, { sub: _asserted, ...user }] = Object.entries(users).find(([name, u]) => (u.sub ?? name) === sub) ?? [sub, {}];
          return { accountId: sub, claims: async () => ({ sub, name: login, ...user }) };
        },
      });
      // The development login page signs in as the login typed; a user with its own `sub` is
      // signed in as that subject instead. The form is read here and handed on as text, with the
      // subject unescaped (the provider parses it with node:querystring, which keeps a value
      // without `%` or `+` as it is; no percent-encoding carries a lone surrogate).
      provider.use(async function signInAsAssertedSubject(ctx, next) {
        if (ctx.method === 'POST' && ctx.path.startsWith('/interaction/')) {
          const chunks: Buffer[] = [];
          for await (const chunk of ctx.req) chunks.push(chunk as Buffer);
          const form = new URLSearchParams(Buffer.concat(chunks).toString());
          const asserted = users[form.get('login') ?? '']?.sub;
          if (asserted !== undefined) form.delete('login');
          (ctx.request as { body?: unknown }).body = asserted === undefined ? form.toString() : `${form}&login=${asserted}`;
        }
        await next();
      });
      provider.use(async function passOnSession(ctx, next) {
        if (idp.passesOnSession && ctx.path === '/auth') {
          const query = new URLSearchParams(ctx.querystring);
          query.delete('prompt');
          query.delete('max_age');
          ctx.querystring = query.toString();
        }
        await next();
      });
      const { clock } = options;
      if (clock) {
        // Emitted before the response is built from the session: on the request that resumes a
        // finished sign-in (`result.login`), stamp that sign-in on the test's clock.
        provider.on('authorization.accepted', (ctx) => {
          if (ctx.oidc.result?.login) ctx.oidc.session!.loginTs = clock.epochSeconds();
        });
      }
      if (options.issParameter === false) {
        provider.use(async function withoutRfc9207(ctx, next) {
          await next();
          if (ctx.path === '/.well-known/openid-configuration' && ctx.body && typeof ctx.body === 'object') {
            delete (ctx.body as Record<string, unknown>).authorization_response_iss_parameter_supported;
          }
          const location = ctx.response.get('location');
          if (location) {
            const url = new URL(location, issuer);
            if (url.origin !== issuer && url.searchParams.has('iss')) {
              url.searchParams.delete('iss');
              ctx.response.set('location', url.href);
            }
          }
        });
      }
      server.removeAllListeners('request');
      server.on('request', record);
      server.on('request', provider.callback());
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  return idp;
}
