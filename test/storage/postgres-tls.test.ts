/**
 * TLS to PostgreSQL as libpq spells it in DATABASE_URL (README: "Several replicas on
 * PostgreSQL"): `sslmode=require` encrypts without checking the server's certificate (a managed
 * database's private CA, a self-signed server), `verify-full` checks it against the system's CAs
 * or `sslrootcert`, host name included.
 *
 * Against a PostgreSQL endpoint of our own that speaks the protocol's TLS negotiation (SSLRequest,
 * then a real TLS handshake with a self-signed certificate for localhost) and then refuses the
 * startup message with an error of its own: the client reaching that error means it accepted the
 * certificate; a certificate error means it refused it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { PostgresDatabase } from '../../apps/shared/storage/postgres-database.ts';
import { databaseErrorReason } from '../../apps/shared/storage/database-unavailable-error.ts';
import { makeTestCertificate } from '../helpers/document-server.ts';

const ACCEPTED = 'the client accepted the server certificate';

/** A PostgreSQL ErrorResponse (protocol §55.7): severity, SQLSTATE, message. */
function errorResponse(message: string): Buffer {
  const fields = Buffer.from(`SFATAL\0C28000\0M${message}\0\0`);
  const header = Buffer.alloc(5);
  header.write('E', 0);
  header.writeInt32BE(4 + fields.length, 1);
  return Buffer.concat([header, fields]);
}

/** Answers an SSLRequest with 'S', completes the handshake, then refuses the startup message. */
function startTlsEndpoint(key: string, cert: string): Promise<Server> {
  const server = createServer((socket: Socket) => {
    socket.once('data', (request) => {
      // SSLRequest: length 8, code 80877103.
      if (request.length !== 8 || request.readInt32BE(4) !== 80877103) return socket.destroy();
      socket.write('S');
      const secure = new TLSSocket(socket, { isServer: true, key, cert });
      secure.once('data', () => secure.end(errorResponse(ACCEPTED)));
      secure.on('error', () => secure.destroy());
    });
    socket.on('error', () => socket.destroy());
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function connectWith(query: string): Promise<string> {
  const database = new PostgresDatabase({ url: `postgres://gatehouse@localhost:${port}/gatehouse?${query}`, connectTimeoutMs: 5000 });
  try {
    await database.all('SELECT 1');
    return 'connected';
  } catch (err) {
    // Refused connections are 503s to a request; the driver's words are the cause.
    return databaseErrorReason(err);
  } finally {
    await database.pool.end();
  }
}

let server: Server;
let port: number;
let dir: string;
let caFile: string;

describe('TLS to PostgreSQL, sslmode as libpq spells it', () => {
  before(async () => {
    const { key, cert } = makeTestCertificate();
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-pg-tls-'));
    caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, cert);
    server = await startTlsEndpoint(key, cert);
    port = (server.address() as { port: number }).port;
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  test('sslmode=require encrypts without checking the certificate: a self-signed server is accepted, and nothing is written to stderr', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.message);
    process.on('warning', onWarning);
    try {
      assert.equal(await connectWith('sslmode=require'), ACCEPTED);
    } finally {
      process.off('warning', onWarning);
    }
    assert.deepEqual(warnings, [], 'the log stays one JSON object per line');
  });

  test('sslmode=verify-full refuses a certificate no trusted CA signed', async () => {
    assert.match(await connectWith('sslmode=verify-full'), /self[- ]signed certificate/);
  });

  test('sslmode=verify-full with sslrootcert accepts the certificate that CA signed', async () => {
    assert.equal(await connectWith(`sslmode=verify-full&sslrootcert=${encodeURIComponent(caFile)}`), ACCEPTED);
  });
});
