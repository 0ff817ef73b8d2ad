/**
 * The lines a person reads when an app has started: where it is, the MCP URL to paste into a
 * client, the home and admin pages, and (first start only) the generated admin password, or,
 * while the first admin has never signed in, how to set a new one.
 *
 * Every URL printed is a public one (the issuer's, the resource's): the address an app is bound
 * to is shown without a scheme, so nobody opens the pages on a second host and has to sign in
 * twice (cookies belong to one host).
 *
 * They go to stdout, not through the JSON logger: the URLs are for a person. An app writes them
 * through its log's stdout destination (`print`), in turn with its log lines: written beside it,
 * they overtook the lines queued for a full pipe, into the middle of one. The generated
 * password itself is shown only when stdout is a terminal. Otherwise (a container, a service
 * manager, output sent to a file) stdout is a log that collectors keep, so the banner names the
 * file that holds the password instead (accounts/first-admin-password-file.ts), which it does
 * on a terminal too. Under `npm start` (apps/start.ts) each app sends its announcement to the
 * launcher over the IPC channel instead, and the launcher prints one banner for both apps once
 * both are ready, judging its own stdout.
 *
 * A stdout that cannot be written (its pipe's reader gone, a full disk) loses the banner and
 * nothing else: the app, or the launcher with both apps, goes on (`printBanner`).
 */
import { GATEHOUSE_COMMAND } from './gatehouse-command.ts';
import type { StdoutDestination } from './stdout-destination.ts';

export interface ReadyAnnouncement {
  app: 'auth-server' | 'resource-server';
  /** The address actually bound, e.g. http://127.0.0.1:4000. */
  listening: string;
  /** Where people and clients reach it: the issuer, or the resource URL's origin. */
  publicUrl: string;
  /** The canonical MCP URL (resource-server only). */
  mcpUrl?: string;
  /** Set on the start that created the first admin with a generated password, and the file holding it. */
  firstAdmin?: { username: string; password: string; passwordFile: string };
  /** The first admin while it has never signed in (auth-server only), and its password file while that is there. */
  unusedAdmin?: { username: string; passwordFile?: string };
  /** GATEHOUSE_CONFIG and DATA_DIR as this server was started with them, for the commands printed (auth-server only). */
  cliEnvironment?: Record<string, string>;
}

export interface BannerOptions {
  /** One banner for both apps, printed by `npm start`'s launcher. */
  launcher?: boolean;
  /** Stdout is a terminal: only then is a generated password shown. */
  terminal?: boolean;
}

/** `value` as one POSIX shell word: as it is when it holds nothing the shell reads, else in single quotes. */
function shellWord(value: string): string {
  return /^[\w./:,+@%=-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * How to give a user a new password, spelled as it runs here (`npx gatehouse` from a clone), with
 * the environment that points the CLI at this server's files: without DATA_DIR or
 * GATEHOUSE_CONFIG, run as printed, it would change the password in ./data instead.
 */
export const setPasswordCommand = (username: string, environment: Record<string, string> = {}) => [
  ...Object.entries(environment).map(([name, value]) => `${name}=${shellWord(value)}`),
  `${GATEHOUSE_COMMAND} users passwd ${shellWord(username)}`,
].join(' ');

/** `http://127.0.0.1:4000` → `127.0.0.1:4000`, plus `, https` when it serves TLS itself. */
function boundAddress(listening: string): string {
  const url = new URL(listening);
  return url.protocol === 'https:' ? `${url.host}, https` : url.host;
}

export const READY_MESSAGE = 'gatehouse:ready';

export function formatBanner(announcements: ReadyAnnouncement[], { launcher = false, terminal = false }: BannerOptions = {}): string {
  const lines: string[] = ['', launcher ? 'Gatehouse is running.' : 'Gatehouse is running:'];
  for (const a of announcements) lines.push(`  ${a.app.padEnd(16)} ${a.publicUrl}   (listening on ${boundAddress(a.listening)})`);
  const mcpUrl = announcements.find((a) => a.mcpUrl)?.mcpUrl;
  if (mcpUrl) {
    lines.push('', `  MCP server URL for your client:  ${mcpUrl}`, `  Claude Code:  claude mcp add --transport http gatehouse ${mcpUrl}`);
  }
  for (const a of announcements) {
    if (a.app !== 'auth-server') continue;
    lines.push('', `  Home page:    ${a.publicUrl}/`, `  Admin pages:  ${a.publicUrl}/admin`);
    const first = a.firstAdmin;
    if (first && terminal) {
      lines.push(
        '',
        `  First start: created admin user "${first.username}" with password: ${first.password}`,
        `  Sign in at ${a.publicUrl}/admin with it, and keep it somewhere safe: it is shown only this once,`,
        `  and kept in ${first.passwordFile} only until "${first.username}" signs in.`,
      );
    } else if (first) {
      lines.push(
        '',
        `  First start: created admin user "${first.username}". Its password is in the file`,
        `    ${first.passwordFile}`,
        `  (readable only by the user Gatehouse runs as, and removed once "${first.username}" signs in).`,
        `  Sign in at ${a.publicUrl}/admin with it, and keep it somewhere safe.`,
      );
    } else if (a.unusedAdmin) {
      const { username, passwordFile } = a.unusedAdmin;
      lines.push(
        '',
        `  Admin user "${username}" has not signed in yet.${passwordFile ? ` Its password is in ${passwordFile}` : ''}`,
        '  Lost its password? Set a new one:',
        `    ${setPasswordCommand(username, a.cliEnvironment)}`,
      );
    }
  }
  if (launcher) lines.push('', 'Press Ctrl-C to stop both apps.');
  return `${lines.join('\n')}\n\n`;
}

/**
 * Writes the launcher's banner to stdout (it has no log of its own). Node reports a write that fails as an 'error' on stdout, which
 * without a listener ends the process with a stack trace: a server (or the launcher, and with it
 * both apps) would stop because nobody reads what it prints.
 */
export function printBanner(text: string): void {
  process.stdout.once('error', () => {});
  process.stdout.write(text);
}

/**
 * Tells the launcher (when there is one) or the terminal that this app is ready; `stdout` is the
 * destination of the app's log, which writes the banner behind the lines it still holds.
 */
export function announceReady(announcement: ReadyAnnouncement, stdout: Pick<StdoutDestination, 'print'>): void {
  if (process.send) {
    process.send({ type: READY_MESSAGE, announcement });
    return;
  }
  stdout.print(formatBanner([announcement], { terminal: process.stdout.isTTY === true }));
}
