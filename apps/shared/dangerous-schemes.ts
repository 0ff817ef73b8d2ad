/**
 * Private-use redirect URI schemes (RFC 8252 §7.1) refused always, even when an administrator
 * lists them (the auth-server's registration/redirect-uri-schemes.ts says why), and the scheme
 * grammar. Here, not in the auth-server, because the config loader checks the configured
 * allowed_schemes against them too (check-allow-list-entry.ts).
 */
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

/**
 * Families refused by prefix: `ms-*` (ms-msdt, ms-officecmd, ms-word, …), `microsoft-edge*`, …;
 * Apple's system handlers with a hyphen or a dot (`x-apple-helpbasic:`, `x-apple.systempreferences:`,
 * which opens System Settings on a pane the URL picks: the dot made it pass as a reverse-domain name).
 */
const DANGEROUS_PREFIXES = ['ms-', 'microsoft-', 'x-safari-', 'opera-', 'firefox-', 'chrome-', 'moz-', 'edge-', 'x-apple-', 'x-apple.'];

/** `scheme` is lowercase, without the colon. */
export function isDangerousScheme(scheme: string): boolean {
  return DANGEROUS_SCHEMES.has(scheme) || DANGEROUS_PREFIXES.some((prefix) => scheme.startsWith(prefix));
}

/** RFC 3986 §3.1 scheme grammar, lowercase (schemes are case-insensitive; we store them lowercase). */
export function isSchemeName(value: string): boolean {
  return /^[a-z][a-z0-9+.-]*$/.test(value);
}
