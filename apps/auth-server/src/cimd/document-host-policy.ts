/**
 * Which Client ID Metadata Documents Gatehouse will fetch, and how it presents their clients.
 *
 * - The client_id URL must begin `https://` in lower case and have a path (oidc-provider already
 *   requires https in any case, no fragment, no userinfo and no dot segments).
 * - A literal special-use IP as host is refused before any connection is tried.
 * - Hosts on the trusted list (default: Claude's) are fetched; others follow the configured
 *   choice: `allow`, `warn` (allowed, with a warning on the consent page) or `refuse`.
 * - The trusted list is read per decision (the server's: config ∪ the admins' table), so a host
 *   an admin adds or removes on any replica applies at once everywhere.
 */
import { isIP } from 'node:net';
import type { AuthServerConfig } from '../../../shared/config/load-config.ts';
import { isSpecialUseAddress } from './special-use-addresses.ts';

export interface DocumentHostPolicy {
  allowFetch(clientId: string): Promise<boolean>;
  /** True when the consent page must warn about this client's document host. */
  needsWarning(clientId: string): Promise<boolean>;
}

export function createDocumentHostPolicy(
  settings: AuthServerConfig['clientIdMetadataDocuments'],
  trustedHosts: () => Promise<ReadonlySet<string>> = async () => new Set(settings.trustedHosts),
  allowLoopback = false,
): DocumentHostPolicy {
  const trusted = async (url: URL) => (await trustedHosts()).has(url.host.toLowerCase());
  return {
    async allowFetch(clientId) {
      // The scheme only as documents write it: the provider also fetches `HTTPS://…`, which would
      // give one document a second client id (and grants, consents) of its own.
      if (!clientId.startsWith('https://')) return false;
      const url = URL.parse(clientId);
      if (!url || url.pathname === '/' || url.pathname === '') return false;
      const host = url.hostname.replace(/^\[|\]$/g, '');
      if (isIP(host) && isSpecialUseAddress(host, allowLoopback)) return false;
      return settings.untrustedHosts !== 'refuse' || await trusted(url);
    },
    async needsWarning(clientId) {
      const url = URL.parse(clientId);
      return !!url && settings.untrustedHosts === 'warn' && !(await trusted(url));
    },
  };
}
