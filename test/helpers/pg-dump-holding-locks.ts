/**
 * A real `pg_dump` in the middle of a dump, as a nightly backup is while a new version starts: it
 * runs in one transaction that holds ACCESS SHARE on every table until it has written them all
 * out, so a migration's ALTER TABLE cannot have its lock for as long as the dump runs. Here it
 * stays so until stopped: the database gets a table larger than its output pipe holds (4 MB)
 * and its output is never read, so pg_dump blocks writing it, locks held.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import { binDir } from '../../scripts/postgres-cluster.mjs';
import { waitFor } from './wait-for.ts';

export interface PgDumpHoldingLocks {
  /** Its session's backend pid, as pg_locks and pg_stat_activity show it. */
  pid: number;
  /** Kills pg_dump; its session ends, and its locks with it. */
  stop(): Promise<void>;
}

/** Starts pg_dump on `url`; resolves once its session holds a lock on `table`. */
export async function startPgDumpHoldingLocks(url: string, table: string): Promise<PgDumpHoldingLocks> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query("CREATE TABLE pg_dump_bulk AS SELECT g AS id, repeat('x', 1000) AS filler FROM generate_series(1, 4000) AS g");
    const child = spawn(join(binDir(), 'pg_dump'), ['--dbname', url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += String(chunk)));
    const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill();
      await exited;
    };
    try {
      const pid = await waitFor(`pg_dump holding a lock on ${table}`, async () => {
        if (child.exitCode !== null) throw new Error(`pg_dump exited with ${child.exitCode}: ${stderr}`);
        const { rows } = await client.query<{ pid: number }>(
          "SELECT a.pid FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'pg_dump' AND a.datname = current_database() AND l.granted AND l.relation = $1::regclass",
          [table],
        );
        return rows[0]?.pid;
      }, 20_000);
      return { pid, stop };
    } catch (err) {
      await stop();
      throw err;
    }
  } finally {
    await client.end();
  }
}
