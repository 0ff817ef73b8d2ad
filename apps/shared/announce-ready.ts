/**
 * The lines a person reads when an app has started: where it is, the MCP URL to paste into a
 * client, the home and admin pages, and (first start only) the generated admin password, or,
 * while the first admin has never signed in, how to set a new one.
 *
 * Every URL printed is a public one (the issuer's, the resource's): the address an app is bound
 * to is shown without a scheme, so nobody opens the pages on a second host and has to sign in
 * twice (cookies belong to one host).
 *
 * They go to the terminal, not through the JSON logger: the password must never enter a log
 * pipeline, and the URLs are for a person. Under `npm start` (apps/start.ts) each app sends its
 * announcement to the launcher over the IPC channel instead, and the launcher prints one banner
 * for both apps once both are ready.
 */
import { GATEHOUSE_COMMAND } from './gatehouse-command.ts';

export interface ReadyAnnouncement {
  app: 'auth-server' | 'resource-server';
  /** The address actually bound, e.g. http://127.0.0.1:4000. */
  listening: string;
  /** Where people and clients reach it: the issuer, or the resource URL's origin. */
  publicUrl: string;
  /** The canonical MCP URL (resource-server only). */
  mcpUrl?: string;
  /** Set on the start that created the first admin with a generated password. */
  firstAdmin?: { username: string; password: string };
  /** The first admin's username while it has never signed in (auth-server only). */
  unusedAdmin?: string;
}

/** How to give a user a new password, spelled as it runs here (`npx gatehouse` from a clone). */
export const setPasswordCommand = (username: string) => `${GATEHOUSE_COMMAND} users passwd ${username}`;

/** `http://127.0.0.1:4000` → `127.0.0.1:4000`, plus `, https` when it serves TLS itself. */
function boundAddress(listening: string): string {
  const url = new URL(listening);
  return url.protocol === 'https:' ? `${url.host}, https` : url.host;
}

export const READY_MESSAGE = 'gatehouse:ready';

export function formatBanner(announcements: ReadyAnnouncement[], { launcher = false } = {}): string {
  const lines: string[] = ['', launcher ? 'Gatehouse is running.' : 'Gatehouse is running:'];
  for (const a of announcements) lines.push(`  ${a.app.padEnd(16)} ${a.publicUrl}   (listening on ${boundAddress(a.listening)})`);
  const mcpUrl = announcements.find((a) => a.mcpUrl)?.mcpUrl;
  if (mcpUrl) {
    lines.push('', `  MCP server URL for your client:  ${mcpUrl}`, `  Claude Code:  claude mcp add --transport http gatehouse ${mcpUrl}`);
  }
  for (const a of announcements) {
    if (a.app !== 'auth-server') continue;
    lines.push('', `  Home page:    ${a.publicUrl}/`, `  Admin pages:  ${a.publicUrl}/admin`);
    if (a.firstAdmin) {
      lines.push(
        '',
        `  First start: created admin user "${a.firstAdmin.username}" with password: ${a.firstAdmin.password}`,
        `  It is shown only this once. Sign in at ${a.publicUrl}/admin with it, and keep it somewhere safe.`,
      );
    } else if (a.unusedAdmin) {
      lines.push(
        '',
        `  Admin user "${a.unusedAdmin}" has not signed in yet. Lost its password? Set a new one:`,
        `    ${setPasswordCommand(a.unusedAdmin)}`,
      );
    }
  }
  if (launcher) lines.push('', 'Press Ctrl-C to stop both apps.');
  return `${lines.join('\n')}\n\n`;
}

/** Tells the launcher (when there is one) or the terminal that this app is ready. */
export function announceReady(announcement: ReadyAnnouncement): void {
  if (process.send) {
    process.send({ type: READY_MESSAGE, announcement });
    return;
  }
  process.stdout.write(formatBanner([announcement]));
}
