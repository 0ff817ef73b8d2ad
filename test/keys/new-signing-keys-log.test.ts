/**
 * What the log says when a start creates the signing keys: at `info` on a new deployment, so a
 * first start logs no warning, also when users were added with the CLI before it; at `warn` when
 * the database already holds grants, sessions, clients or tokens, which other keys signed or were
 * bound to (KEYS_DIR pointed elsewhere, key files lost, keys left behind on a move).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { createLogger } from '../../apps/shared/logger.ts';
import { openDatabase } from '../../apps/shared/storage/open-database.ts';
import { registerClient } from '../helpers/oauth-flow.ts';
import { startAuthServer, TEST_KEY_ENCRYPTION_KEY } from '../helpers/start-auth-server.ts';
import { createTestPostgresDatabase, TEST_BACKENDS } from '../helpers/test-database.ts';
import { makeCliDir, runCli } from '../cli/support/cli-runner.ts';

interface LogLine {
  level: number;
  msg: string;
  grantsTokensAndSessions?: number;
}

/** A logger whose JSON lines are kept, for reading back. */
function capturingLogger(): { logger: ReturnType<typeof createLogger>; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  return { logger: createLogger('auth-server', 'info', sink), lines };
}

const aboutNewKeys = (lines: LogLine[]) => lines.filter((line) => /generated a new RS256/.test(line.msg));

for (const backend of TEST_BACKENDS) {
  describe(`the log line of a start that creates the signing keys (${backend})`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-new-keys-'));
    const cliDir = makeCliDir('gatehouse-new-keys-cli-');
    let databaseUrl: string | undefined;
    after(() => {
      rmSync(dir, { recursive: true, force: true });
      rmSync(cliDir, { recursive: true, force: true });
    });

    /** Starts (and stops) a server on `on`'s data and keys; `meanwhile` runs while it serves. */
    const start = async (on = dir, database = databaseUrl, meanwhile?: (issuer: string) => Promise<unknown>) => {
      const { logger, lines } = capturingLogger();
      const server = await startAuthServer({ dir: on, logger, ...(database ? { databaseUrl: database } : {}) });
      try {
        await meanwhile?.(server.issuer);
      } finally {
        await server.close();
      }
      return lines;
    };

    test('a first start on an empty deployment says so at info, and warns about nothing of the keys', async () => {
      if (backend === 'postgres') databaseUrl = await createTestPostgresDatabase();
      // A client registered meanwhile: what the database holds when the keys go missing below.
      const lines = await start(dir, databaseUrl, (issuer) => registerClient(issuer));
      assert.deepEqual(aboutNewKeys(lines).map((line) => [line.level, line.msg]), [[30, 'first start: generated a new RS256 signing key']], JSON.stringify(lines));
      assert.deepEqual(lines.filter((line) => line.level >= 40 && /key/i.test(line.msg)), []);
    });

    test('a first start after users were added with the CLI says so at info too', async () => {
      const cliDatabase = backend === 'postgres' ? await createTestPostgresDatabase() : undefined;
      const env: Record<string, string> = cliDatabase ? { DATABASE_URL: cliDatabase, GATEHOUSE_KEY_ENCRYPTION_KEY: TEST_KEY_ENCRYPTION_KEY } : {};
      const added = await runCli(cliDir, ['users', 'add', 'alice'], 'alice password 1234\n', env);
      assert.equal(added.code, 0, added.stderr);
      const lines = await start(cliDir, cliDatabase);
      assert.deepEqual(aboutNewKeys(lines).map((line) => [line.level, line.msg]), [[30, 'first start: generated a new RS256 signing key']], JSON.stringify(lines));
      assert.deepEqual(lines.filter((line) => line.level >= 40 && /key/i.test(line.msg)), []);
    });

    test('keys missing beside a database that holds a client is a warning counting what it holds', async () => {
      // What a wrong KEYS_DIR, lost key files or a move without the keys leave.
      if (backend === 'sqlite') {
        rmSync(join(dir, 'keys'), { recursive: true, force: true });
      } else {
        const database = await openDatabase({ sqliteFile: join(dir, 'unused.db'), postgres: { url: databaseUrl! } }, 'auth-server');
        await database.run('DELETE FROM signing_keys');
        await database.close();
      }
      const lines = await start();
      const [line, ...others] = aboutNewKeys(lines);
      assert.equal(others.length, 0, JSON.stringify(lines));
      assert.equal(line?.level, 40, JSON.stringify(lines));
      assert.match(line.msg, /^no signing key found, but the database already holds grants, sessions, clients or tokens/);
      assert.ok(line.grantsTokensAndSessions! >= 1, 'the client registered on the first start');
    });
  });
}
