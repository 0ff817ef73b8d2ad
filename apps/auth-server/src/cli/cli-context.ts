/**
 * What every CLI command gets: the configuration (loadConfig, the one reader of the environment),
 * the admin services over the database (opened and migrated on first use, as the server does),
 * output in text or `--json`, and secret input.
 *
 * The CLI works on the database and key store directly, never through the server's HTTP API, so
 * it also works while the server is stopped. While it runs, changes are seen at once (the server
 * reads them per request), a user's record within 1 second (user-store.ts), redirect URIs and
 * schemes within 2 seconds (allow-list-snapshot.ts), and key changes within
 * `signing.reload_interval`. With `DATABASE_URL` (or `database.url`) it
 * works on that PostgreSQL database, the one every replica uses.
 */
import { existsSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import type Provider from 'oidc-provider';
import { ConfigError } from '../../../shared/config/config-error.ts';
import type { AuthServerAppConfig, AuthServerConfig } from '../../../shared/config/load-config.ts';
import { systemClock } from '../../../shared/clock.ts';
import type { ConnectionLog } from '../../../shared/connection-events.ts';
import { escapeControlCharacters } from '../../../shared/escape-control-characters.ts';
import { createLogger } from '../../../shared/logger.ts';
import { DeploymentFileError } from '../../../shared/storage/deployment-file-error.ts';
import { openDatabase } from '../../../shared/storage/open-database.ts';
import { redactDatabaseUrl } from '../../../shared/storage/postgres-database.ts';
import type { SqlDatabase } from '../../../shared/storage/sql-database.ts';
import { ModelStore } from '../provider/model-store.ts';
import { hashStoredSecrets } from '../provider/hash-stored-secrets.ts';
import { PasswordHasher } from '../accounts/password-hasher.ts';
import { UserStore } from '../accounts/user-store.ts';
import { createAdminServices, type AdminServices } from '../management/admin-services.ts';
import type { ChangedBy } from '../management/admin-actor.ts';
import { validateWithProvider } from '../management/client-registry.ts';
import { AuditLog } from '../audit/audit-log.ts';
import { createConnectionLog } from '../connections/connection-log.ts';
import type { KeyStore } from '../keys/key-store.ts';
import { activeKey } from '../keys/signing-keys.ts';
import { openKeyStore } from '../keys/open-key-store.ts';
import { buildValidationProvider } from './build-validation-provider.ts';
import { cannotOpenDatabase, CliError } from './cli-errors.ts';
import { INVOCATION } from './invocation.ts';
import { readSecret, type SecretSource } from './read-secret.ts';

/** The process's streams for the binary (main.ts); a test's own streams in-process. */
export interface CliIo {
  /** A terminal (`isTTY`, `setRawMode`) for password prompts, or a pipe whose first line is the password. */
  stdin: SecretSource['stdin'];
  stdout: Writable;
  stderr: Writable;
  /**
   * Ends a command that runs until it is stopped (`audit tail --follow`), which then exits 0. The
   * binary passes none: Ctrl-C ends the process.
   */
  signal?: AbortSignal;
  /**
   * Told what a command has committed and how to undo it, before it prints output that cannot be
   * shown again (a secret): the binary says it if stdout then fails (exit-on-output-error.ts).
   */
  committed?: (note: string) => void;
}

/** Changes made from the command line are audited with the actor `cli`. */
export const CLI: ChangedBy = { actor: { name: 'cli' } };

export class CliContext {
  readonly #config?: AuthServerConfig;
  #database?: SqlDatabase;
  #hasher?: PasswordHasher;
  #services?: AdminServices;
  #users?: UserStore;
  #provider?: Provider;
  #keyStore?: KeyStore;
  #connections?: ConnectionLog;

  /** `config` is undefined for a command that reads no local configuration (CommandGroup.usesConfig). */
  constructor(config: AuthServerAppConfig | undefined, readonly io: CliIo, readonly json: boolean) {
    this.#config = config?.authServer;
  }

  get config(): AuthServerConfig {
    if (!this.#config) throw new Error('this command reads no configuration (usesConfig: false)');
    return this.#config;
  }

  /**
   * Opens the server's database (SQLite file or PostgreSQL) and brings its schema up to date, as
   * the server does at start. run.ts calls it before every command that uses the database.
   */
  async openDatabase(): Promise<void> {
    if (this.#database) return;
    const settings = this.config.database;
    // SQLite makes a missing file: a mistyped DATA_DIR would otherwise list no users, as if there were none.
    const created = !settings.postgres && !existsSync(settings.sqliteFile);
    try {
      this.#database = await openDatabase(settings, 'auth-server');
    } catch (err) {
      // Written for the person already, naming the database (a schema a newer version migrated) or
      // the DATA_DIR path it could not make or open.
      if (err instanceof ConfigError || err instanceof DeploymentFileError) throw err;
      throw cannotOpenDatabase(settings.postgres ? `PostgreSQL at ${redactDatabaseUrl(settings.postgres.url)}` : settings.sqliteFile, err);
    }
    if (created) {
      this.note(`there was no database at ${settings.sqliteFile}; created a new, empty one (check DATA_DIR if you expected data)`);
    }
    // As the server does at start: rows an earlier version stored in plain get their hashes.
    await hashStoredSecrets(this.#database);
  }

  get database(): SqlDatabase {
    if (!this.#database) throw new Error('call openDatabase() first');
    return this.#database;
  }

  /** Where `keyStore` is, for messages: the KEYS_DIR directory, or the PostgreSQL database. */
  get keysLocation(): string {
    const settings = this.config.database;
    return settings.postgres ? `PostgreSQL at ${redactDatabaseUrl(settings.postgres.url)}` : this.config.keysDir;
  }

  /** The signing keys where the server keeps them: KEYS_DIR on SQLite, the database on PostgreSQL. */
  get keyStore(): KeyStore {
    if (!this.#keyStore) {
      // The database itself, not the SQLite handle: on PostgreSQL the keys are in it.
      this.#keyStore = openKeyStore(this.config, this.database);
    }
    return this.#keyStore;
  }

  get users(): UserStore {
    return (this.#users ??= new UserStore(this.database));
  }

  /**
   * Connection attempts from both apps' recorded events, as the admin pages read them: this
   * database's, and the resource server's over HTTP with a token signed by the active key (read
   * once here). Its warnings are not logged: a resource server that cannot be read is the
   * `problem` the command prints, and stdout stays the command's output.
   */
  async connections(): Promise<ConnectionLog> {
    if (!this.#connections) {
      const key = activeKey(await this.keyStore.readSigningKeys());
      this.#connections = createConnectionLog({
        database: this.database,
        config: this.config,
        signingKey: () => {
          // Keys are created at the server's first start, before it can record anything.
          if (!key) throw new CliError(`there is no signing key yet: the server has never started, so it recorded no connection (\`${INVOCATION} keys list\`)`);
          return key;
        },
        clock: systemClock,
        logger: createLogger('gatehouse-cli', 'silent'),
      });
    }
    return this.#connections;
  }

  /** bcrypt on its worker thread, at the configured cost. */
  get hasher(): PasswordHasher {
    return (this.#hasher ??= new PasswordHasher(this.config.bcryptCost, { threads: 1 }));
  }

  get services(): AdminServices {
    if (!this.#services) {
      this.#services = createAdminServices({
        database: this.database,
        models: new ModelStore(this.database),
        config: this.config,
        users: this.users,
        // The hasher is created on first use only: it hashes a dummy password when it starts.
        hashPassword: (password) => this.hasher.hash(password),
        audit: new AuditLog(this.database, this.config.audit),
        keyStore: this.keyStore,
        validateClientMetadata: validateWithProvider(() => {
          if (!this.#provider) throw new Error('call loadClientValidation() first');
          return this.#provider;
        }),
      });
    }
    return this.#services;
  }

  /** Builds the provider that validates client metadata (before `services.clients.createStatic`). */
  async loadClientValidation(): Promise<void> {
    this.#provider ??= await buildValidationProvider(this.config, this.database, this.users, this.keyStore);
  }

  readSecret(question: string, options: { confirm?: boolean } = {}): Promise<string> {
    return readSecret({ stdin: this.io.stdin as Readable & SecretSource['stdin'], stderr: this.io.stderr }, question, options);
  }

  /**
   * Prints `data` as JSON with --json, else the text `human` gives, with every control character
   * but its line breaks shown escaped (escape-control-characters.ts): much of what the CLI shows was
   * written by others (a `client_name` anyone can register, a request's User-Agent, audit details),
   * and must not steer the terminal. `--json` is for programs and left as JSON writes it.
   * `human` may give the text as lines: each is then one line, a line break inside it written out
   * too, so a value that holds one (a username stored before the username rules) cannot forge a
   * line of its own. A text given whole keeps its line breaks (a table, whose cells are escaped).
   * `ownEscapes`: the text carries escape sequences of its own (doctor's colours), and its
   * formatter has escaped the values it shows.
   */
  print(data: unknown, human: () => string | readonly string[], options: { ownEscapes?: boolean } = {}): void {
    if (this.json) {
      this.io.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
      return;
    }
    const text = human();
    if (typeof text !== 'string') this.io.stdout.write(`${text.map((line) => escapeControlCharacters(line)).join('\n')}\n`);
    else this.io.stdout.write(`${options.ownEscapes ? text : escapeControlCharacters(text, '\n')}\n`);
  }

  /** `note`: what the command has made and how to undo it, said if its output cannot be written (CliIo#committed). */
  committed(note: string): void {
    this.io.committed?.(note);
  }

  /** A note for the person on stderr (`gatehouse: note: …`), leaving stdout the command's output. */
  note(text: string): void {
    this.io.stderr.write(`${escapeControlCharacters(`gatehouse: note: ${text}`)}\n`);
  }

  /**
   * One line of a stream of records (`audit tail`): `json` with --json, else `text` with every
   * control character shown escaped, line breaks too, so a value cannot forge a line of its own.
   */
  printLine(json: () => string, text: () => string): void {
    this.io.stdout.write(`${this.json ? json() : escapeControlCharacters(text())}\n`);
  }

  async close(): Promise<void> {
    await this.#hasher?.close();
    await this.#database?.close();
  }
}
