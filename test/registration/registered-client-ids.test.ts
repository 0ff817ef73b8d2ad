/**
 * Client ids from Dynamic Client Registration are letters and digits only: an administrator can
 * pass one after an option (`--client ID`) and select it whole with a double-click.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { newRegisteredClientId, REGISTERED_CLIENT_ID_LENGTH } from '../../apps/auth-server/src/registration/registered-client-id.ts';
import { CLAUDE_DCR_BODY, registerClient } from '../helpers/oauth-flow.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { makeCliDir, runCli } from '../cli/support/cli-runner.ts';

const LETTERS_AND_DIGITS = /^[A-Za-z0-9]+$/;

describe('registered client ids', () => {
  test('are 43 letters and digits, each character as likely as any other, never the same id twice', () => {
    const draws = 10_000;
    const ids = Array.from({ length: draws }, newRegisteredClientId);
    for (const id of ids) {
      assert.equal(id.length, REGISTERED_CLIENT_ID_LENGTH, id);
      assert.match(id, LETTERS_AND_DIGITS);
    }
    assert.equal(new Set(ids).size, draws);
    const counts = new Map<string, number>();
    for (const character of ids.join('')) counts.set(character, (counts.get(character) ?? 0) + 1);
    assert.equal(counts.size, 62, 'every letter and digit is drawn');
    // 430,000 characters: about 6,935 each, give or take 83. Taking a byte modulo 62 without
    // drawing again would make the first 8 characters 25 % likelier than the others.
    const expected = (draws * REGISTERED_CLIENT_ID_LENGTH) / 62;
    for (const [character, count] of counts) {
      assert.ok(Math.abs(count - expected) < expected * 0.1, `${character} drawn ${count} times, expected about ${Math.round(expected)}`);
    }
  });

  describe('handed out by the authorization server', () => {
    let dir: string;
    let server: TestAuthServer;
    before(async () => {
      dir = makeCliDir('gatehouse-client-ids-');
      server = await startAuthServer({ dir });
    });
    after(async () => {
      await server?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    // oidc-provider's own ids are base64url: 8 of them all free of `-` and `_` happens about once in 50,000 runs.
    test('are letters and digits, and the command line takes each after --client as an administrator types it', async () => {
      for (let i = 0; i < 8; i += 1) {
        const { client_id: clientId } = await registerClient(server.issuer, CLAUDE_DCR_BODY);
        assert.equal(clientId.length, REGISTERED_CLIENT_ID_LENGTH, clientId);
        assert.match(clientId, LETTERS_AND_DIGITS);
        const listed = await runCli(dir, ['--json', 'grants', 'list', '--client', clientId]);
        assert.equal(listed.code, 0, listed.stderr);
        assert.deepEqual(JSON.parse(listed.stdout), []);
      }
    });
  });
});
