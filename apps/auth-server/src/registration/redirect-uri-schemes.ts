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

/** RFC 8252 §7.1: a reverse-domain name, e.g. `com.example.app` (at least two dot-separated labels). */
export function isReverseDomainScheme(scheme: string): boolean {
  return /^[a-z][a-z0-9-]*(\.[a-z0-9-]+)+$/.test(scheme);
}
