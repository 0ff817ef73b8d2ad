/**
 * An OAuthClientProvider for the official MCP SDK client, as an MCP client app would implement
 * it, with storage in memory and the "browser" being our cookie-carrying test browser: when the
 * SDK asks to redirect the user, `signInAt` completes sign-in and consent through the real forms
 * and returns the code from the callback.
 */
import assert from 'node:assert/strict';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { Browser } from './browser.ts';
import { decide, signIn } from './oauth-flow.ts';

export class TestOAuthClientProvider implements OAuthClientProvider {
  client?: OAuthClientInformationMixed;
  savedTokens?: OAuthTokens;
  verifier = '';
  authorizationUrls: URL[] = [];
  /** Set to use a Client ID Metadata Document instead of registering. */
  clientMetadataUrl?: string;

  constructor(
    readonly redirectUrl: string,
    readonly metadata: Partial<OAuthClientMetadata> = {},
  ) {}

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'Gatehouse test MCP client',
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      ...this.metadata,
    };
  }

  clientInformation() {
    return this.client;
  }

  saveClientInformation(info: OAuthClientInformationMixed) {
    this.client = info;
  }

  tokens() {
    return this.savedTokens;
  }

  saveTokens(tokens: OAuthTokens) {
    this.savedTokens = tokens;
  }

  redirectToAuthorization(url: URL) {
    this.authorizationUrls.push(url);
  }

  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }

  codeVerifier() {
    return this.verifier;
  }

  invalidateCredentials(scope: 'all' | 'client' | 'tokens' | 'verifier') {
    if (scope === 'all' || scope === 'client') this.client = undefined;
    if (scope === 'all' || scope === 'tokens') this.savedTokens = undefined;
  }

  /** Opens the last authorization URL in a browser, signs in and approves; returns the callback. */
  async signInAt(issuer: string, username: string, password: string, browser = new Browser(issuer)): Promise<URL> {
    const url = this.authorizationUrls.at(-1);
    assert.ok(url, 'the SDK did not ask to open an authorization URL');
    let page = await browser.navigate(url);
    if (page.html.includes('name="password"')) page = await signIn(browser, page, username, password);
    if (page.html.includes('name="decision"')) page = await decide(browser, page, 'approve');
    assert.ok(page.status >= 300 && page.status < 400, `expected a redirect to the client, got ${page.status}: ${page.html.slice(0, 300)}`);
    return new URL(page.url);
  }
}
