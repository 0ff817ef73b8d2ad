/**
 * What the bookkeeping of one token request costs in CPU, on SQLite, in this process: an audit
 * event committed alone (`AuditLog.record`, what each token request cost before) against events
 * queued and written in batches (`AuditLog.enqueue`, what the request path uses now), and the
 * client-usage upsert that changes nothing against the one this process now skips. An extra to
 * bench/refresh-grants.ts: it isolates statements whose share of a whole grant is too small to
 * see through that benchmark's noise on a shared machine.
 *
 * The table holds AUDIT_ROWS events first, so indexes are as deep as on a server that has run a
 * while. Each figure is process CPU time (user + system) per event, the median of ROUNDS rounds.
 *
 * Run: npx tsx bench/audit-writes.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { AuditLog, type AuditEntry } from '../apps/auth-server/src/audit/audit-log.ts';
import { ClientUsage } from '../apps/auth-server/src/provider/client-usage.ts';
import { openDatabase } from '../apps/shared/storage/open-database.ts';
import { median } from './mcp-session.ts';

const AUDIT_ROWS = 20_000;
const EVENTS_PER_ROUND = 4000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

/** A `token.refreshed` event as record-provider-events.ts writes it. */
const ENTRY: AuditEntry = {
  event: 'token.refreshed',
  actor: { name: 'admin', id: 'ed77ddcd-1e1a-4e36-b1dc-23d530869c2c' },
  ip: '127.0.0.1',
  clientId: 'Kq0h3d8x1Zp0uX9kQm7n2Lw4Yt6Rv8Sa',
  details: { grant_type: 'refresh_token', grant_id: 'ZKp0uX9kQm7n2Lw4Yt6Rv8SaKq0h3d8x1Zp0uX9k', scope: 'mcp:read', resource: 'http://localhost:4001/mcp', refresh_token_issued: true },
};

/** Microseconds of CPU per event: `step` handles `perStep` events and is run until EVENTS_PER_ROUND. */
async function cpuPerEvent(perStep: number, step: () => Promise<unknown>): Promise<number> {
  const rounds: number[] = [];
  for (let round = 0; round <= ROUNDS; round += 1) {
    const started = process.cpuUsage();
    for (let done = 0; done < EVENTS_PER_ROUND; done += perStep) await step();
    const used = process.cpuUsage(started);
    if (round > 0) rounds.push((used.user + used.system) / EVENTS_PER_ROUND); // round 0 warms up
  }
  return median(rounds);
}

export async function benchAuditWrites(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-audit-'));
  const db = await openDatabase({ sqliteFile: join(dir, 'auth-server.db') }, 'auth-server');
  try {
    const audit = new AuditLog(db, { retention: 1e9, maxEvents: 1e9 });
    for (let i = 0; i < AUDIT_ROWS; i += 1) audit.enqueue(ENTRY);
    await audit.flush();

    console.log(`bookkeeping writes on SQLite (${AUDIT_ROWS} events in the table; CPU per event, median of ${ROUNDS} rounds × ${EVENTS_PER_ROUND})`);
    const alone = await cpuPerEvent(1, () => audit.record(ENTRY));
    console.log(`  audit event committed alone (before)      ${alone.toFixed(1).padStart(6)} µs`);
    for (const batch of [1, 4, 16]) {
      const batched = await cpuPerEvent(batch, () => Promise.all(Array.from({ length: batch }, () => audit.enqueue(ENTRY))));
      console.log(`  audit events queued, ${String(batch).padStart(2)} per write         ${batched.toFixed(1).padStart(6)} µs   (${(batched / alone).toFixed(2)} of alone)`);
    }

    const usage = new ClientUsage(db);
    const client = { clientId: 'bench-client', metadata: () => ({}) };
    const stored = Date.now();
    await usage.record(client, stored);
    // A use a second after the stored one. A fresh ClientUsage has no memory of the stored use,
    // so it sends the upsert, which changes nothing (what every token request cost before).
    const upsert = await cpuPerEvent(1, () => new ClientUsage(db).record(client, stored + 1000));
    const skipped = await cpuPerEvent(1, () => usage.record(client, stored + 1000));
    console.log(`  client usage within the minute: upsert ${upsert.toFixed(1)} µs (before), skipped ${skipped.toFixed(1)} µs (now)`);
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchAuditWrites();
}
