/**
 * Which Client ID Metadata Documents Gatehouse will fetch, and how it presents their clients.
 *
 * - The client_id URL must have a path (oidc-provider already requires https, no fragment, no
 *   userinfo and no dot segments).
 * - A literal special-use IP as host is refused before any connection is tried.
 * - Hosts on the trusted list (default: Claude's) are fetched; others follow the configured
 *   choice: `allow`, `warn` (allowed, with a warning on the consent page) or `refuse`.
 */
import { isIP } from 'node:net';
import type { AuthServerConfig } from '../../../shared/config/load-config.ts';
import { isSpecialUseAddress } from './special-use-addresses.ts';

export interface DocumentHostPolicy {
  allowFetch(clientId: string): boolean;
  /** True when the consent page must warn about this client's document host. */
  needsWarning(clientId: string): boolean;
}

export function createDocumentHostPolicy(
  settings: AuthServerConfig['clientIdMetadataDocuments'],
  trustedHosts: () => ReadonlySet<string> = () => new Set(settings.trustedHosts),
  allowLoopback = false,
): DocumentHostPolicy {
  const trusted = (url: URL) => trustedHosts().has(url.host.toLowerCase());
  return {
    allowFetch(clientId) {
      const url = URL.parse(clientId);
      if (!url || url.pathname === '/' || url.pathname === '') return false;
      const host = url.hostname.replace(/^\[|\]$/g, '');
      if (isIP(host) && isSpecialUseAddress(host, allowLoopback)) return false;
      return trusted(url) || settings.untrustedHosts !== 'refuse';
    },
    needsWarning(clientId) {
      const url = URL.parse(clientId);
      return !!url && !trusted(url) && settings.untrustedHosts === 'warn';
    },
  };
}
