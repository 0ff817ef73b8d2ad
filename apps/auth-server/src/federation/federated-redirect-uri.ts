/**
 * The redirect URI Gatehouse sends to (and registers at) each upstream.
 *
 * RFC 9700 §4.4.2: a client of several authorization servers uses a distinct redirect URI per
 * server and checks that a response arrived at the one of the server it sent the request to;
 * otherwise a malicious upstream can have an honest upstream's code delivered to our shared
 * callback and redeemed at its own token endpoint (mix-up). So each upstream gets
 * `<issuer>/oauth/callback/<id>`. The shared `<issuer>/oauth/callback` of earlier releases stays
 * available to a single upstream (`legacy_redirect_uri`), where no mix-up is possible.
 */
import type { UpstreamConfig } from '../../../shared/config/federated-upstreams.ts';

export const SHARED_CALLBACK_PATH = '/oauth/callback';

export function federatedRedirectUri(issuer: string, upstream: Pick<UpstreamConfig, 'id' | 'legacyRedirectUri'>): string {
  return upstream.legacyRedirectUri ? `${issuer}${SHARED_CALLBACK_PATH}` : `${issuer}${SHARED_CALLBACK_PATH}/${upstream.id}`;
}
