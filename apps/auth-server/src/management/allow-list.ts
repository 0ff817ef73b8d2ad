/**
 * A list that the config file starts and administrators extend at runtime: exact https redirect
 * URIs and private-use redirect URI schemes for Dynamic Client Registration, and trusted hosts for
 * Client ID Metadata Documents.
 *
 * - The effective list is the config file's entries plus the table's rows, read on every use
 *   (one small SELECT), so a change applies to the next use without a restart, on every replica,
 *   also when the CLI made it while the server runs. Where the reader must be synchronous (the
 *   provider's client metadata validator), an AllowListSnapshot follows the list instead.
 * - Entries from the config file cannot be removed here: the file would add them back at the
 *   next start, so the error says to edit the file.
 * - A list the config file did not set holds the built-in defaults (Claude's callbacks and
 *   hosts): they are marked `builtInDefault`, and removing one means listing, in the file, the
 *   entries to keep (`configKey`). A file that repeats the defaults word for word is shown the
 *   same way: it has the same effect, and the same change removes one.
 * - Scheme and host are case-insensitive (RFC 3986 §6.2.2.1) and are matched in lower case (a
 *   URL parser lowers them before registration or the document fetch compares them), so every
 *   value, the config file's too, is looked up and removed in lower case: `remove` takes an entry
 *   as the admin sees or types it. The rest of a redirect URI is compared exactly.
 */
import { systemClock, type Clock } from '../../../shared/clock.ts';
import type { SqlDatabase } from '../../../shared/storage/sql-database.ts';
import type { AuditEventName, AuditLog } from '../audit/audit-log.ts';
import type { ChangedBy } from './admin-actor.ts';
import {
  caseFoldHost, caseFoldScheme, caseFoldUri, checkAllowedRedirectUri, checkAllowedScheme, checkTrustedHost, MAX_HOST_NAME_LENGTH, MAX_SCHEME_LENGTH,
} from '../../../shared/check-allow-list-entry.ts';
import { MAX_REDIRECT_URI_LENGTH } from '../../../shared/find-uri-defect.ts';
import { AdminError } from './admin-error.ts';
import { cutInput } from './cut-input.ts';
import { DEFAULT_ALLOWED_REDIRECT_URIS, DEFAULT_TRUSTED_HOSTS } from '../../../shared/config/auth-server-section.ts';

export interface AllowListEntry {
  value: string;
  source: 'config' | 'admin';
  /** From the config side, but the built-in default rather than a list the file sets. */
  builtInDefault: boolean;
  addedBy?: string;
  /** Epoch ms. */
  addedAt?: number;
}

interface ListSpec {
  table: 'allowed_redirect_uris' | 'trusted_document_hosts' | 'allowed_redirect_schemes';
  column: 'uri' | 'host' | 'scheme';
  /** Returns the value to store, or throws AdminError saying what is wrong with it. */
  normalise(value: string): string;
  /** The value as matching compares it (scheme and host in lower case); never throws. */
  caseFold(value: string): string;
  events: { added: AuditEventName; removed: AuditEventName };
  what: string;
  /** The config file key that replaces the configured entries (dotted, as the file nests it). */
  configKey: string;
  /** What that key holds when the file does not set it. */
  defaults: readonly string[];
}

export class AllowList {
  readonly #db: SqlDatabase;
  readonly #configured: ReadonlySet<string>;
  readonly #spec: ListSpec;
  readonly #audit: AuditLog;
  readonly #clock: Clock;
  readonly #listeners = new Set<() => Promise<void>>();
  /** The configured entries are the built-in defaults (see the file comment). */
  readonly #configuredAreDefaults: boolean;

  constructor(db: SqlDatabase, configured: readonly string[], spec: ListSpec, audit: AuditLog, clock: Clock = systemClock) {
    this.#db = db;
    this.#configured = new Set(configured.map((value) => spec.caseFold(value)));
    this.#spec = spec;
    this.#audit = audit;
    this.#clock = clock;
    this.#configuredAreDefaults = configured.length === spec.defaults.length && spec.defaults.every((value) => this.#configured.has(value));
  }

  /** The config file key that replaces the configured entries. */
  get configKey(): string {
    return this.#spec.configKey;
  }

  /** Config entries ∪ stored entries, as the database has them now. */
  async effective(): Promise<ReadonlySet<string>> {
    const { table, column } = this.#spec;
    const rows = await this.#db.all<{ value: string }>(`SELECT ${column} AS value FROM ${table}`);
    return new Set([...this.#configured, ...rows.map((row) => row.value)]);
  }

  async list(): Promise<AllowListEntry[]> {
    const { table, column } = this.#spec;
    const stored = await this.#db.all<{ value: string; added_by: string; added_at: number }>(
      `SELECT ${column} AS value, added_by, added_at FROM ${table} ORDER BY ${column}`,
    );
    const entries: AllowListEntry[] = [...this.#configured].map((value) => ({ value, source: 'config', builtInDefault: this.#configuredAreDefaults }));
    for (const row of stored) {
      if (!this.#configured.has(row.value)) entries.push({ value: row.value, source: 'admin', builtInDefault: false, addedBy: row.added_by, addedAt: row.added_at });
    }
    return entries.sort((a, b) => a.value.localeCompare(b.value));
  }

  /** `raw` as the list holds it (trimmed, scheme and host in lower case), or throws AdminError saying what is wrong with it. */
  storedForm(raw: string): string {
    return this.#spec.normalise(this.#spec.caseFold(raw.trim()));
  }

  /**
   * Adds `raw` (normalised); false when it was already on the list. The row and its audit event
   * commit together; this process's snapshots are refreshed before it returns.
   */
  async add(raw: string, by: ChangedBy): Promise<boolean> {
    const value = this.storedForm(raw);
    if (this.#configured.has(value)) return false;
    const { table, column } = this.#spec;
    const added = await this.#db.transaction(async (tx) => {
      const inserted = await tx.run(`INSERT INTO ${table} (${column}, added_by, added_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
        [value, by.actor.name, this.#clock.now()]);
      if (inserted.changes === 0) return false;
      await this.#audit.record({ event: this.#spec.events.added, actor: by.actor, ip: by.ip, details: { [column]: value } }, tx);
      return true;
    });
    if (added) await this.#changed();
    return added;
  }

  /** Removes `raw` (trimmed, case-folded as the list holds it) and returns the entry removed. */
  async remove(raw: string, by: ChangedBy): Promise<string> {
    const value = this.#spec.caseFold(raw.trim());
    if (this.#configured.has(value) && this.#configuredAreDefaults) {
      throw new AdminError(409, `${cutInput(value)} is a built-in default; to remove it, list only the entries to keep under ${this.#spec.configKey} in the config file ([] for none) and restart.`);
    }
    if (this.#configured.has(value)) {
      throw new AdminError(409, `${cutInput(value)} comes from the config file; remove it there (it would be added back at the next start).`);
    }
    const { table, column } = this.#spec;
    await this.#db.transaction(async (tx) => {
      const deleted = await tx.run(`DELETE FROM ${table} WHERE ${column} = ?`, [value]);
      if (deleted.changes === 0) throw new AdminError(404, `${cutInput(value)} is not on the list of ${this.#spec.what}.`);
      await this.#audit.record({ event: this.#spec.events.removed, actor: by.actor, ip: by.ip, details: { [column]: value } }, tx);
    });
    await this.#changed();
    return value;
  }

  /** Runs `listener` after every change made through this object (an AllowListSnapshot reloads). */
  onChange(listener: () => Promise<void>): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async #changed(): Promise<void> {
    await Promise.all([...this.#listeners].map((listener) => listener()));
  }
}

/**
 * Only exact https URIs go on the list: loopback http and private-use schemes are allowed by rule
 * (shared/check-allow-list-entry.ts). Expects the scheme and host in lower case already (`caseFoldUri`).
 */
export function normaliseAllowedRedirectUri(value: string): string {
  const found = checkAllowedRedirectUri(value);
  if (!found) return value; // Stored exactly as given: registration compares redirect URIs as exact strings.
  switch (found.problem) {
    case 'too_long': throw new AdminError(400, `Redirect URIs are limited to ${MAX_REDIRECT_URI_LENGTH} characters.`, 'uri');
    case 'loopback_http': throw new AdminError(400, 'Loopback http redirect URIs (127.0.0.1, [::1], localhost) are always allowed, on any port; there is no need to add them.', 'uri');
    case 'other_scheme': throw new AdminError(400, 'Only https redirect URIs go on this list; allow a private-use scheme (like myapp:) on the list of allowed schemes instead.', 'uri');
    case 'not_https': throw new AdminError(400, `${cutInput(value) || 'That'} is not an absolute https URI.`, 'uri');
    case 'fragment': throw new AdminError(400, 'A redirect URI must not contain a fragment (#…).', 'uri');
    case 'user_info': throw new AdminError(400, 'A redirect URI must not contain a user name or password.', 'uri');
    case 'wildcard': throw new AdminError(400, 'Redirect URIs are matched exactly; wildcards are not supported. Add each redirect URI the app uses.', 'uri');
    case 'defect': throw new AdminError(400, `Registration would refuse this URI: ${found.defect}.`, 'uri');
  }
}

/** A private-use scheme name (`caseFoldScheme` applied); never one of the dangerous schemes (shared/check-allow-list-entry.ts). */
export function normaliseAllowedScheme(scheme: string): string {
  const found = checkAllowedScheme(scheme);
  if (!found) return scheme;
  switch (found.problem) {
    case 'too_long': throw new AdminError(400, `Scheme names are limited to ${MAX_SCHEME_LENGTH} characters.`, 'scheme');
    case 'not_a_scheme': throw new AdminError(400, `${scheme || 'That'} is not a URI scheme name (like myapp).`, 'scheme');
    case 'http': throw new AdminError(400, 'https redirect URIs are allowed one by one on the list of redirect URIs, and loopback http always is.', 'scheme');
    case 'dangerous': throw new AdminError(400, `The ${scheme}: scheme opens a browser, runs content or starts a system handler; it is never allowed as a redirect URI.`, 'scheme');
  }
}

/** A trusted host as the document fetch compares it (shared/check-allow-list-entry.ts), in lower case. */
export function normaliseTrustedHost(value: string): string {
  const host = caseFoldHost(value);
  const found = checkTrustedHost(host);
  if (!found) return host;
  switch (found.problem) {
    case 'too_long': throw new AdminError(400, `Host names are limited to ${MAX_HOST_NAME_LENGTH} characters.`, 'host');
    case 'not_a_host': throw new AdminError(400, `${cutInput(value) || 'That'} is not a host name (like claude.ai, or example.com:8443; an international name in its xn-- form).`, 'host');
    case 'written_otherwise': throw new AdminError(400, `An https URL writes ${cutInput(host)} as ${cutInput(found.written)}; trust ${cutInput(found.written)} instead.`, 'host');
  }
}

export function createRedirectUriAllowList(db: SqlDatabase, configured: readonly string[], audit: AuditLog, clock?: Clock): AllowList {
  return new AllowList(db, configured, {
    table: 'allowed_redirect_uris',
    column: 'uri',
    normalise: normaliseAllowedRedirectUri,
    caseFold: caseFoldUri,
    events: { added: 'redirect_uri.allowed', removed: 'redirect_uri.removed' },
    what: 'allowed redirect URIs',
    configKey: 'auth_server.registration.allowed_redirect_uris',
    defaults: DEFAULT_ALLOWED_REDIRECT_URIS,
  }, audit, clock);
}

export function createTrustedHostList(db: SqlDatabase, configured: readonly string[], audit: AuditLog, clock?: Clock): AllowList {
  return new AllowList(db, configured, {
    table: 'trusted_document_hosts',
    column: 'host',
    normalise: normaliseTrustedHost,
    caseFold: caseFoldHost,
    events: { added: 'trusted_host.added', removed: 'trusted_host.removed' },
    what: 'trusted client metadata hosts',
    configKey: 'auth_server.client_id_metadata_documents.trusted_hosts',
    defaults: DEFAULT_TRUSTED_HOSTS,
  }, audit, clock);
}

export function createRedirectSchemeAllowList(db: SqlDatabase, configured: readonly string[], audit: AuditLog, clock?: Clock): AllowList {
  return new AllowList(db, configured, {
    table: 'allowed_redirect_schemes',
    column: 'scheme',
    normalise: normaliseAllowedScheme,
    caseFold: caseFoldScheme,
    events: { added: 'redirect_scheme.allowed', removed: 'redirect_scheme.removed' },
    what: 'allowed redirect URI schemes',
    configKey: 'auth_server.registration.allowed_schemes',
    defaults: [],
  }, audit, clock);
}
