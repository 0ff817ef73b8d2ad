/**
 * `gatehouse doctor <MCP URL>`: checks a deployment from outside, as Claude will (doctor/).
 * Needs neither the local configuration nor the database: only the URL. Exit 0 when no check
 * failed (warnings included), 1 when one did, 2 for a wrong command line.
 */
import type { Writable } from 'node:stream';
import { MAX_TIMER_SECONDS } from '../../../../shared/config/field-schemas.ts';
import type { CommandGroup } from '../command.ts';
import { CliError, UsageError } from '../cli-errors.ts';
import { parseCommandLine } from '../parse-command-line.ts';
import { formatDoctorReport } from '../../doctor/format-doctor-report.ts';
import { runDoctor } from '../../doctor/run-doctor.ts';
import { cutInput } from '../../management/cut-input.ts';

export const doctorCommand: CommandGroup = {
  usesDatabase: false,
  usesConfig: false,
  usage: [
    'doctor MCP_URL [--no-register] [--timeout SECONDS]',
    '  checks a deployment from outside, as Claude will (the URL you paste into a client); sends no',
    '  credentials; registers one test client (never used, it expires) unless --no-register',
  ],
  subcommands: {
    async ''(args, context) {
      const { values, positionals } = parseCommandLine(args, {
        'no-register': { type: 'boolean' },
        timeout: { type: 'string' },
      }, { min: 1, max: 1, names: 'MCP_URL (the URL you paste into the client, e.g. https://mcp.example.com/mcp)' });
      const url = positionals[0]!;
      if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
        throw new UsageError(`not an http(s) URL: ${JSON.stringify(cutInput(url))}; give the MCP URL you paste into the client, e.g. https://mcp.example.com/mcp`);
      }
      const seconds = values.timeout === undefined ? 10 : Number(values.timeout);
      if (!Number.isFinite(seconds) || seconds <= 0) throw new UsageError(`--timeout takes a number of seconds, got ${JSON.stringify(cutInput(String(values.timeout)))}`);
      // A longer timer fires after 1 ms: the doctor would report every check as timed out at once.
      if (seconds > MAX_TIMER_SECONDS) throw new UsageError(`--timeout is at most ${MAX_TIMER_SECONDS} seconds (24 days), the longest a timer can wait, got ${JSON.stringify(cutInput(String(values.timeout)))}`);

      const report = await runDoctor(url, { register: !values['no-register'], timeoutMs: seconds * 1000 });
      const colour = (context.io.stdout as Writable & { isTTY?: boolean }).isTTY === true;
      context.print(report, () => formatDoctorReport(report, { colour }), { ownEscapes: true });
      const failed = report.checks.filter((c) => c.status === 'fail').map((c) => c.id);
      if (failed.length > 0) throw new CliError(`doctor: ${failed.length} check(s) failed: ${failed.join(', ')}`);
    },
  },
};
