/**
 * openid-client configurations for the upstream OpenID providers, discovered lazily from each
 * configured issuer (the metadata's `issuer` must match it exactly, which openid-client checks)
 * and kept; a failed discovery is not kept, so the next sign-in tries again.
 *
 * Every request to an upstream (discovery, JWKS, token) has the upstream's timeout and a body
 * size cap; plain http is only possible for loopback issuers (config refuses it elsewhere).
 */
import * as oidc from 'openid-client';
import type { UpstreamConfig } from '../../../shared/config/federated-upstreams.ts';

const MAX_RESPONSE_BYTES = 256 * 1024;

/** fetch with a response body cap, enforced while reading. */
async function limitedFetch(url: string, options: oidc.CustomFetchOptions): Promise<Response> {
  const response = await fetch(url, options as RequestInit);
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > MAX_RESPONSE_BYTES) {
    await response.body?.cancel();
    throw new Error(`response from ${new URL(url).host} is larger than ${MAX_RESPONSE_BYTES} bytes`);
  }
  const chunks: Uint8Array[] = [];
  let received = 0;
  const reader = response.body?.getReader();
  for (let read = await reader?.read(); reader && read && !read.done; read = await reader.read()) {
    received += read.value.length;
    if (received > MAX_RESPONSE_BYTES) {
      await reader.cancel();
      throw new Error(`response from ${new URL(url).host} is larger than ${MAX_RESPONSE_BYTES} bytes`);
    }
    chunks.push(read.value);
  }
  return new Response(response.status === 204 || response.status === 304 ? null : Buffer.concat(chunks), {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}

export class UpstreamClients {
  readonly #upstreams: Map<string, UpstreamConfig>;
  readonly #configurations = new Map<string, Promise<oidc.Configuration>>();

  constructor(upstreams: UpstreamConfig[]) {
    this.#upstreams = new Map(upstreams.map((u) => [u.id, u]));
  }

  list(): UpstreamConfig[] {
    return [...this.#upstreams.values()];
  }

  get(id: string): UpstreamConfig | undefined {
    return this.#upstreams.get(id);
  }

  configuration(upstream: UpstreamConfig): Promise<oidc.Configuration> {
    let pending = this.#configurations.get(upstream.id);
    if (!pending) {
      pending = this.#discover(upstream);
      this.#configurations.set(upstream.id, pending);
      pending.catch(() => this.#configurations.delete(upstream.id));
    }
    return pending;
  }

  async #discover(upstream: UpstreamConfig): Promise<oidc.Configuration> {
    const issuer = new URL(upstream.issuer);
    const insecure = issuer.protocol === 'http:';
    const configuration = await oidc.discovery(
      issuer,
      upstream.clientId,
      upstream.clientSecret ? { client_secret: upstream.clientSecret } : {},
      upstream.clientSecret ? oidc.ClientSecretPost(upstream.clientSecret) : oidc.None(),
      {
        timeout: upstream.timeout,
        execute: insecure ? [oidc.allowInsecureRequests] : [],
        [oidc.customFetch]: limitedFetch,
      },
    );
    configuration[oidc.customFetch] = limitedFetch;
    configuration.timeout = upstream.timeout;
    return configuration;
  }
}
