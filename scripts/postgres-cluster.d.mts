export declare const SUPERUSER: string;
/** The directory of the server binaries the cluster runs, and of the client tools of the same version (pg_dump). */
export declare function binDir(): string;
export interface PostgresCluster {
  /** The superuser's URL to the `postgres` database. */
  url: string;
  port: number;
  /** A new empty database; resolves to its URL. */
  createDatabase(prefix?: string): Promise<string>;
  stop(): Promise<void>;
}
export declare function startPostgresCluster(options?: { unref?: boolean }): Promise<PostgresCluster>;
export declare function createDatabaseAt(adminUrl: string, prefix?: string, options?: { locale?: string }): Promise<string>;
