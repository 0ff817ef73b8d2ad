/**
 * Which private-use URI schemes (RFC 8252 §7.1) a redirect URI may use.
 *
 * - Refused always, even when an administrator lists them: schemes that make the browser open
 *   another browser or view (a way around the https allow-list: `microsoft-edge:https://evil…`),
 *   run or read content in the browser (`javascript:`, `data:`, `view-source:`, `jar:`), or start
 *   an OS handler with known abuse (`ms-msdt:` Follina CVE-2022-30190, `search-ms:`, `ms-officecmd:`,
 *   the Office `ms-word:`/`ms-excel:` family, `ms-appinstaller:`). An authorization redirect with
 *   `prompt=none` follows them with no click, so they are never a safe callback.
 * - Accepted: a reverse-domain scheme (contains a dot, `com.example.app:/cb`), which RFC 8252
 *   §7.1 asks native apps to use; a scheme of a known MCP client (below); or one an admin allowed.
 * Deliberately not checked: who owns a reverse-domain name (RFC 8252 §8.6: anyone may claim one;
 * the consent page names the client).
 */

/** Known MCP clients whose OAuth callback is their own scheme (not a reverse-domain name). */
export const KNOWN_CLIENT_SCHEMES: ReadonlySet<string> = new Set([
  'cursor', // Cursor: cursor://anysphere.cursor-mcp/oauth/callback
  'vscode', // VS Code and its forks hand vscode://<extension>/… to extension auth providers
  'vscode-insiders',
  'windsurf', // Windsurf (Codeium): windsurf://…
]);

const DANGEROUS_SCHEMES: ReadonlySet<string> = new Set([
  // Open a URL in a (possibly other) browser, or show it in a special view.
  'googlechrome', 'googlechromes', 'firefox', 'firefox-private', 'brave', 'x-web-search', 'view-source',
  // Run or read content in the browser, or name browser internals.
  'javascript', 'vbscript', 'livescript', 'data', 'blob', 'file', 'filesystem', 'about', 'jar', 'wyciwyg',
  'mhtml', 'mk', 'its', 'res', 'resource', 'chrome', 'chrome-extension', 'chrome-untrusted', 'chrome-search',
  'edge', 'moz-extension', 'safari-extension', 'webkit-extension', 'devtools',
  // Launch apps or installers with URL-supplied arguments.
  'intent', 'android-app', 'search', 'search-ms', 'shell', 'itms-services', 'itms-apps', 'shortcuts',
  // Other transports: never an OAuth callback, and some leak credentials (smb: NTLM).
  'http', 'https', 'ws', 'wss', 'ftp', 'smb', 'afp', 'nfs', 'webdav', 'ldap', 'mailto', 'tel', 'sms',
]);

/** Families refused by prefix: `ms-*` (ms-msdt, ms-officecmd, ms-word, …), `microsoft-edge*`, … */
const DANGEROUS_PREFIXES = ['ms-', 'microsoft-', 'x-safari-', 'opera-', 'firefox-', 'chrome-', 'moz-', 'edge-', 'x-apple-'];

/** `scheme` is lowercase, without the colon. */
export function isDangerousScheme(scheme: string): boolean {
  return DANGEROUS_SCHEMES.has(scheme) || DANGEROUS_PREFIXES.some((prefix) => scheme.startsWith(prefix));
}

/** RFC 8252 §7.1: a reverse-domain name, e.g. `com.example.app` (at least two dot-separated labels). */
export function isReverseDomainScheme(scheme: string): boolean {
  return /^[a-z][a-z0-9-]*(\.[a-z0-9-]+)+$/.test(scheme);
}

/** RFC 3986 §3.1 scheme grammar, lowercase (schemes are case-insensitive; we store them lowercase). */
export function isSchemeName(value: string): boolean {
  return /^[a-z][a-z0-9+.-]*$/.test(value);
}
