/**
 * What every CLI command gets: the configuration (loadConfig, the one reader of the environment),
 * the admin services over the database (opened and migrated on first use, as the server does),
 * output in text or `--json`, and secret input.
 *
 * The CLI works on the database and key store directly, never through the server's HTTP API, so
 * it also works while the server is stopped. While it runs, changes are seen at once (the server
 * reads them per request), redirect URIs and schemes within 2 seconds (allow-list-snapshot.ts),
 * and key changes within `signing.reload_interval`.
 */
import type { Readable, Writable } from 'node:stream';
import type Provider from 'oidc-provider';
import type { AuthServerAppConfig, AuthServerConfig } from '../../../shared/config/load-config.ts';
import type { Db } from '../../../shared/database.ts';
import { migrationsDir } from '../../../shared/storage/open-database.ts';
import { migrateSqlite, SqliteDatabase } from '../../../shared/storage/sqlite-database.ts';
import { ModelStore } from '../provider/model-store.ts';
import { PasswordHasher } from '../accounts/password-hasher.ts';
import { UserStore } from '../accounts/user-store.ts';
import { createAdminServices, type AdminServices } from '../management/admin-services.ts';
import type { ChangedBy } from '../management/admin-actor.ts';
import { validateWithProvider } from '../management/client-registry.ts';
import { AuditLog } from '../audit/audit-log.ts';
import type { KeyStore } from '../keys/key-store.ts';
import { openKeyStore } from '../keys/open-key-store.ts';
import { buildValidationProvider } from './build-validation-provider.ts';
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
}

/** Changes made from the command line are audited with the actor `cli`. */
export const CLI: ChangedBy = { actor: { name: 'cli' } };

export class CliContext {
  readonly config: AuthServerConfig;
  #database?: SqliteDatabase;
  #hasher?: PasswordHasher;
  #services?: AdminServices;
  #users?: UserStore;
  #provider?: Provider;
  #keyStore?: KeyStore;

  constructor(config: AuthServerAppConfig, readonly io: CliIo, readonly json: boolean) {
    this.config = config.authServer;
  }

  get db(): Db {
    return this.database.handle;
  }

  /**
   * Opened and migrated on first use. Rows an earlier version stored in plain are converted by
   * the server at its start (provider/hash-stored-secrets.ts), not here: nothing the CLI does
   * looks a row up by a hashed id.
   */
  get database(): SqliteDatabase {
    if (!this.#database) {
      if (this.config.database.postgres) throw new Error('the command line does not run on PostgreSQL yet');
      this.#database = new SqliteDatabase(this.config.database.sqliteFile);
      migrateSqlite(this.#database, migrationsDir('sqlite', 'auth-server'));
    }
    return this.#database;
  }

  /** The signing keys where the server keeps them: KEYS_DIR on SQLite, the database on PostgreSQL. */
  get keyStore(): KeyStore {
    if (!this.#keyStore) {
      void this.db;
      this.#keyStore = openKeyStore(this.config, this.#database!);
    }
    return this.#keyStore;
  }

  get users(): UserStore {
    return (this.#users ??= new UserStore(this.db));
  }

  /** bcrypt on its worker thread, at the configured cost. */
  get hasher(): PasswordHasher {
    return (this.#hasher ??= new PasswordHasher(this.config.bcryptCost));
  }

  get services(): AdminServices {
    if (!this.#services) {
      this.#services = createAdminServices({
        db: this.db,
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

  /** Prints `data` as JSON with --json, else the text `human` gives. */
  print(data: unknown, human: () => string): void {
    this.io.stdout.write(this.json ? `${JSON.stringify(data, null, 2)}\n` : `${human()}\n`);
  }

  async close(): Promise<void> {
    await this.#hasher?.close();
    await this.#database?.close();
  }
}
