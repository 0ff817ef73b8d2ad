/**
 * The times an admin types to filter the audit log (`audit tail --since`, the audit page's From
 * and Until) are read in UTC, the zone the log prints, and a date that does not exist is refused.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseUtcTime } from '../../apps/auth-server/src/audit/parse-utc-time.ts';

describe('a time typed to filter the audit log', () => {
  const read: Array<[string, string]> = [
    ['2026-01-31', '2026-01-31T00:00:00.000Z'],
    ['2026-01-31T14:00', '2026-01-31T14:00:00.000Z'],
    ['2026-01-31 14:00', '2026-01-31T14:00:00.000Z'],
    ['2026-01-31T14:00:05', '2026-01-31T14:00:05.000Z'],
    ['2026-01-31T14:00:05.25Z', '2026-01-31T14:00:05.250Z'],
    ['2026-01-31t14:00z', '2026-01-31T14:00:00.000Z'],
    ['2026-01-31T14:00+01:00', '2026-01-31T13:00:00.000Z'],
    ['2026-01-31T14:00-0530', '2026-01-31T19:30:00.000Z'],
    ['2028-02-29', '2028-02-29T00:00:00.000Z'],
    ['  2026-01-31T14:00  ', '2026-01-31T14:00:00.000Z'],
  ];
  for (const [text, utc] of read) {
    test(`${JSON.stringify(text)} is ${utc}`, () => {
      assert.equal(new Date(parseUtcTime(text)!).toISOString(), utc);
    });
  }

  const refused = [
    '2026-02-31', '2026-02-29', '2026-13-01', '2026-01-31T24:00', '2026-01-31T14:60', '2026-01-31T14:00:60',
    '2026-01-31T14:00+24:00', '2026-01-31T14:00+01:60', 'Jan 31 2026', '31/01/2026', '14:00', '2026-01-31T14', '1769868000000', '',
    '0050-01-01', '2026-01-31T14:00Z x', '2026-01-31T14:00:00.1234Z',
  ];
  for (const text of refused) {
    test(`${JSON.stringify(text)} is refused`, () => {
      assert.equal(parseUtcTime(text), undefined);
    });
  }
});
