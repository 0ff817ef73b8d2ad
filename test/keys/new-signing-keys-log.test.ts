/**
 * What the log says when a start creates the signing keys: at `info` on a new deployment, so a
 * first start logs no warning; at `warn` when the database already holds users or grants, which
 * other keys signed for (KEYS_DIR pointed elsewhere, key files lost, keys left behind on a move).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { createLogger } from '../../apps/shared/logger.ts';
import { openDatabase } from '../../apps/shared/storage/open-database.ts';
import { startAuthServer } from '../helpers/start-auth-server.ts';
import { createTestPostgresDatabase, TEST_BACKENDS } from '../helpers/test-database.ts';

interface LogLine {
  level: number;
  msg: string;
  users?: number;
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
    let databaseUrl: string | undefined;
    after(() => rmSync(dir, { recursive: true, force: true }));

    const start = async () => {
      if (backend === 'postgres') databaseUrl ??= await createTestPostgresDatabase();
      const { logger, lines } = capturingLogger();
      const server = await startAuthServer({ dir, logger, ...(databaseUrl ? { databaseUrl } : {}) });
      await server.close();
      return lines;
    };

    test('a first start on an empty deployment says so at info, and warns about nothing of the keys', async () => {
      const lines = await start();
      assert.deepEqual(aboutNewKeys(lines).map((line) => [line.level, line.msg]), [[30, 'first start: generated a new RS256 signing key']], JSON.stringify(lines));
      assert.deepEqual(lines.filter((line) => line.level >= 40 && /key/i.test(line.msg)), []);
    });

    test('keys missing beside a database that holds users (its admin) is a warning naming them', async () => {
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
      assert.match(line.msg, /^no signing key found, but the database already holds users or grants/);
      assert.equal(line.users, 1, 'the admin the first start created');
    });
  });
}
