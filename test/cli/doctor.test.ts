/**
 * `gatehouse doctor <MCP URL>` run as a process (the real binary), as an operator runs it, against
 * real deployments on 127.0.0.1: a good one (exit 0, every check a local deployment can pass
 * passes, and the local-only warnings say claude.ai cannot reach it), and deliberately broken
 * ones, each failing the check that names its cause, with the fix (exit 1). Also: a self-signed
 * certificate, a server that never answers, the command line's usage errors (exit 2), the
 * --json shape, and that it sends no credentials and, with --no-register, writes nothing (without
 * it, one test client and one unfinished sign-in).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { startDocumentServer, type DocumentServer } from '../helpers/document-server.ts';
import { freePort } from '../helpers/net.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { startResourceServerBeside } from '../helpers/start-resource-server-beside.ts';
import { createLogger } from '../../apps/shared/logger.ts';
import type { ResourceServerConfig } from '../../apps/shared/config/resource-server-section.ts';
import type { GatehouseConfig } from '../../apps/shared/config/load-config.ts';
import type { DoctorReport } from '../../apps/auth-server/src/doctor/doctor-check.ts';

const INSPECTOR = 'http://localhost:6274';
const BIN = join(import.meta.dirname, '..', '..', 'apps', 'auth-server', 'src', 'cli', 'gatehouse.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real `gatehouse` binary in a directory of its own, with an environment that names no
 * configuration, data or keys: the doctor needs none. `env` adds to it.
 */
function gatehouse(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const cwd = mkdtempSync(join(tmpdir(), 'gatehouse-doctor-cwd-'));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    child.on('error', reject);
    child.on('close', (code) => {
      rmSync(cwd, { recursive: true, force: true });
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

async function doctorJson(args: string[], env: Record<string, string> = {}): Promise<{ run: Run; report: DoctorReport }> {
  const run = await gatehouse(['--json', 'doctor', ...args], env);
  let report: DoctorReport;
  try {
    report = JSON.parse(run.stdout) as DoctorReport;
  } catch {
    assert.fail(`not JSON (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
  }
  return { run, report };
}

const check = (report: DoctorReport, id: string) => {
  const found = report.checks.find((c) => c.id === id);
  assert.ok(found, `no check ${id} in ${report.checks.map((c) => c.id).join(', ')}`);
  return found;
};
const failed = (report: DoctorReport) => report.checks.filter((c) => c.status === 'fail').map((c) => c.id);

interface LogLine {
  level: number;
  msg: string;
  origin?: string;
}
const INFO = 30;
const WARN = 40;

interface Deployment {
  auth: TestAuthServer;
  mcpUrl: string;
  close(): Promise<void>;
}

/** A real auth-server and resource server on 127.0.0.1, as `npm start` runs them; `configure*` break them on purpose. */
async function startDeployment(options: {
  configureAuth?: (config: GatehouseConfig) => void;
  configureResource?: (config: ResourceServerConfig) => void;
  /** Where the resource server's log lines (info and above) go. Default: nowhere. */
  resourceLog?: LogLine[];
} = {}): Promise<Deployment> {
  const port = await freePort();
  const mcpUrl = `http://127.0.0.1:${port}/mcp`;
  const auth = await startAuthServer({ env: { RESOURCE_URL: mcpUrl }, configure: options.configureAuth });
  const lines = options.resourceLog;
  const logger = lines && createLogger('resource-server', 'info', { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  const rs = await startResourceServerBeside(auth, { configure: options.configureResource, logger });
  return {
    auth,
    mcpUrl,
    async close() {
      await rs.close();
      await auth.close();
    },
  };
}

/** The provider's stored rows of one model (`Client`, `Interaction`, …), and the latest expiry among them (epoch seconds). */
function stored(auth: TestAuthServer, model: string): { count: number; expiresAt: number | null } {
  const db = new Database(join(auth.dir, 'data', 'auth-server.db'), { readonly: true });
  try {
    return db.prepare('SELECT count(*) AS count, max(expires_at) AS expiresAt FROM oidc_models WHERE model = ?').get(model) as { count: number; expiresAt: number | null };
  } finally {
    db.close();
  }
}

describe('gatehouse doctor against a good local deployment', () => {
  let good: Deployment;
  let inspectorAllowed: Deployment;
  before(async () => {
    [good, inspectorAllowed] = await Promise.all([
      startDeployment(),
      startDeployment({ configureResource: (config) => { config.allowedOrigins = [INSPECTOR]; } }),
    ]);
  });
  after(() => Promise.all([good?.close(), inspectorAllowed?.close()]));

  test('every check a local deployment can pass passes (MCP Inspector\'s origin allowed), and it exits 0', async () => {
    const { run, report } = await doctorJson([inspectorAllowed.mcpUrl]);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.equal(report.url, inspectorAllowed.mcpUrl);
    assert.equal(report.ok, true);
    for (const id of ['mcp-endpoint', 'mcp-root', 'prm', 'prm-paths', 'prm-resource', 'as-metadata', 'issuer', 'pkce', 'cimd', 'refresh',
      'registration', 'claude-callbacks', 'resource-accepted', 'cors', 'jwks', 'clock', 'resource-server-jwks', 'resource-server-revocations', 'resource-server-ready']) {
      assert.equal(check(report, id).status, 'ok', `${id}: ${JSON.stringify(check(report, id))}`);
    }
    assert.equal(check(report, 'token-lifetime').status, 'skip');
    assert.match(check(report, 'token-lifetime').summary, /not checked/);
    assert.match(check(report, 'cors').summary, /may call MCP endpoint, resource metadata/);
  });

  test('at the defaults it exits 0, and warns only of loopback http and of the MCP endpoint refusing MCP Inspector\'s browser origin', async () => {
    const { run, report } = await doctorJson([good.mcpUrl, '--no-register']);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.deepEqual(report.checks.filter((c) => c.status === 'warn').map((c) => c.id), ['mcp-address', 'mcp-https', 'cors']);
    const cors = check(report, 'cors');
    assert.equal(cors.status, 'warn', JSON.stringify(cors));
    assert.match(cors.summary, /^browser clients cannot call MCP endpoint$/);
    assert.match(cors.detail ?? '', /MCP endpoint \(OPTIONS http:\/\/127\.0\.0\.1:\d+\/mcp\): answered 403/);
    assert.match(cors.detail ?? '', /token \(OPTIONS .*\): allowed/);
    assert.match(cors.fix ?? '', /resource_server:\n +allowed_origins: \[http:\/\/localhost:6274\]/);
    assert.match(cors.fix ?? '', /Only clients running in a browser need this, such as MCP Inspector connecting directly/);
  });

  test('a loopback http deployment warns that claude.ai cannot reach it, and says who can', async () => {
    const { report } = await doctorJson([good.mcpUrl, '--no-register']);
    const address = check(report, 'mcp-address');
    assert.equal(address.status, 'warn');
    assert.match(address.summary, /only this machine: claude\.ai and Claude Desktop/);
    assert.match(address.detail ?? '', /127\.0\.0\.1 \(loopback\)/);
    assert.match(address.fix ?? '', /Claude Code and MCP Inspector through its proxy on this machine \(Inspector's direct browser mode also needs resource_server\.allowed_origins/);
    const transport = check(report, 'mcp-https');
    assert.equal(transport.status, 'warn');
    assert.match(transport.fix ?? '', /claude\.ai and Claude Desktop need https/);
  });

  test('--json has a stable shape: { url, ok, checks: [{ id, status, summary, detail, fix }] }', async () => {
    const { report } = await doctorJson([good.mcpUrl, '--no-register']);
    assert.deepEqual(Object.keys(report), ['url', 'ok', 'checks']);
    for (const c of report.checks) {
      assert.deepEqual(Object.keys(c), ['id', 'status', 'summary', 'detail', 'fix']);
      assert.ok(['ok', 'warn', 'fail', 'skip'].includes(c.status), c.status);
      assert.equal(typeof c.summary, 'string');
      if (c.status === 'ok') assert.equal(c.fix, null, `${c.id}: nothing to fix`);
      if (c.status === 'warn') assert.equal(typeof c.fix, 'string', `${c.id}: a warning says what to do`);
    }
    assert.equal(new Set(report.checks.map((c) => c.id)).size, report.checks.length, 'ids are unique');
  });

  test('the text report lists one line per check, without colours when not on a terminal', async () => {
    const run = await gatehouse(['doctor', good.mcpUrl, '--no-register']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^ {2}OK {4}mcp-endpoint +the MCP URL asks for sign-in/m);
    assert.match(run.stdout, /^ {2}WARN {2}mcp-address /m);
    assert.match(run.stdout, /^ {8}Advice: Fine for Claude Code/m);
    assert.match(run.stdout, /^ {2}SKIP {2}registration +not checked \(--no-register\)/m);
    assert.match(run.stdout, /No check failed; \d warning\(s\)/);
    assert.ok(!run.stdout.includes('\u001b['), 'no ANSI colour codes in a pipe');
  });

  test('the README\'s doctor section names every check it reports', async () => {
    const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
    const section = /## Check a deployment: gatehouse doctor\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? '';
    const { report } = await doctorJson([good.mcpUrl, '--no-register']);
    for (const id of [...report.checks.map((c) => c.id), 'auth-address', 'auth-https']) {
      assert.ok(section.includes(`\`${id}\``), `README names ${id}`);
    }
  });

  test('registration creates one test client and one sign-in that expires within the hour, and says so; --no-register creates neither', async () => {
    const before = { clients: stored(good.auth, 'Client').count, interactions: stored(good.auth, 'Interaction').count };
    const run = await gatehouse(['doctor', good.mcpUrl, '--no-register']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(stored(good.auth, 'Client').count, before.clients, '--no-register wrote nothing');
    assert.equal(stored(good.auth, 'Interaction').count, before.interactions, '--no-register wrote nothing');
    const registered = await gatehouse(['doctor', good.mcpUrl]);
    assert.equal(registered.code, 0, registered.stderr);
    assert.match(registered.stdout, /created one test client; it is never used and expires/);
    assert.equal(stored(good.auth, 'Client').count, before.clients + 1);
    const interactions = stored(good.auth, 'Interaction');
    assert.equal(interactions.count, before.interactions + 1, 'resource-accepted started one sign-in');
    assert.ok(interactions.expiresAt !== null && interactions.expiresAt <= Date.now() / 1000 + 3600, `expires at ${interactions.expiresAt}`);
  });
});

describe('gatehouse doctor\'s CORS probe in the resource server\'s log', () => {
  let deployment: Deployment;
  const log: LogLine[] = [];
  before(async () => { deployment = await startDeployment({ resourceLog: log }); });
  after(() => deployment?.close());

  const refusals = (level: number) => log.filter((line) => line.level === level && line.origin !== undefined);

  test('is logged at info as the doctor\'s, never at warn as a refused browser client; a real client from that origin is still warned of', async () => {
    const { run, report } = await doctorJson([deployment.mcpUrl, '--no-register']);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.equal(check(report, 'cors').status, 'warn', 'MCP Inspector\'s origin is not allowed here');
    assert.deepEqual(refusals(WARN), [], 'no warn line for the doctor\'s own probe');
    const [probe, ...more] = refusals(INFO);
    assert.equal(more.length, 0, JSON.stringify(log));
    assert.equal(probe?.origin, INSPECTOR);
    assert.match(probe.msg, /^gatehouse doctor's CORS probe: its browser origin is not in resource_server\.allowed_origins/);

    // MCP Inspector itself (a browser's preflight: no doctor header) is the client the warning is for.
    const preflight = await fetch(deployment.mcpUrl, {
      method: 'OPTIONS', headers: { origin: INSPECTOR, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    assert.equal(preflight.status, 403);
    await preflight.text();
    const [warned, ...others] = refusals(WARN);
    assert.equal(others.length, 0, JSON.stringify(log));
    assert.equal(warned?.origin, INSPECTOR);
    assert.match(warned.msg, /^refused a browser origin not in resource_server\.allowed_origins/);
  });

  test('the doctor\'s header on anything but a preflight hides nothing: such a request is warned of like any other', async () => {
    const origin = 'https://app.example.com';
    const response = await fetch(deployment.mcpUrl, { method: 'POST', headers: { origin, 'gatehouse-doctor': 'cors', 'content-type': 'application/json' }, body: '{}' });
    assert.equal(response.status, 403);
    await response.text();
    assert.deepEqual(refusals(WARN).filter((line) => line.origin === origin).map((line) => line.msg.slice(0, 25)), ['refused a browser origin ']);
  });
});

describe('gatehouse doctor against broken deployments', () => {
  let good: Deployment;
  let issuerMismatch: Deployment;
  let missingCallback: Deployment;
  let resourceMismatch: Deployment;
  let feedNotRouted: Deployment;
  let registrationClosed: Deployment;
  before(async () => {
    [good, issuerMismatch, missingCallback, resourceMismatch, feedNotRouted, registrationClosed] = await Promise.all([
      startDeployment(),
      // The resource server names the auth-server by another URL than the auth-server's ISSUER.
      startDeployment({ configureResource: (config) => { config.issuer = config.issuer.replace('127.0.0.1', 'localhost'); } }),
      // An allow-list without the claude.com callback.
      startDeployment({ configureAuth: (config) => { config.authServer.registration.allowedRedirectUris = ['https://claude.ai/api/mcp/auth_callback']; } }),
      // The two apps on separate hosts, the auth-server given an older RESOURCE_URL than the resource server.
      startDeployment({
        configureAuth: (config) => { config.authServer.resource = `${config.authServer.resource}-old`; },
        configureResource: (config) => { config.resource = config.resource.replace(/-old$/, ''); },
      }),
      // A proxy that routes /oauth/jwks to the auth-server but not /oauth/revocations.
      startDeployment({ configureResource: (config) => { config.revocation.feedUri = `${config.issuer}/oauth/not-routed/revocations`; } }),
      startDeployment({ configureAuth: (config) => { config.authServer.registration.enabled = false; } }),
    ]);
  });
  after(async () => {
    await Promise.all([good?.close(), issuerMismatch?.close(), missingCallback?.close(), resourceMismatch?.close(), feedNotRouted?.close(), registrationClosed?.close()]);
  });

  const cases: Array<{ name: string; url: () => string; failed: string; summary: RegExp; fix: RegExp }> = [
    {
      name: 'the pasted URL names another host than the resource (RESOURCE_URL)',
      url: () => good.mcpUrl.replace('127.0.0.1', 'localhost'),
      failed: 'prm-resource',
      summary: /another resource than the pasted URL/,
      fix: /paste exactly http:\/\/127\.0\.0\.1:\d+\/mcp into the client, or, if .* set RESOURCE_URL/,
    },
    {
      name: 'the pasted URL has a trailing slash the resource has not',
      url: () => `${good.mcpUrl}/`,
      failed: 'prm-resource',
      summary: /differ by a trailing slash/,
      fix: /byte for byte/,
    },
    {
      name: 'the AS metadata names another issuer than the URL it was fetched from',
      url: () => issuerMismatch.mcpUrl,
      failed: 'issuer',
      summary: /another issuer/,
      fix: /Set the auth-server's ISSUER and the resource server's issuer \(resource_server\.issuer\) to the same public URL/,
    },
    {
      name: 'the MCP path is wrong (404)',
      url: () => good.mcpUrl.replace(/\/mcp$/, '/wrong'),
      failed: 'mcp-endpoint',
      summary: /nothing at this path \(404\)/,
      fix: /Wrong path/,
    },
    {
      name: 'the allow-list lacks a Claude callback',
      url: () => missingCallback.mcpUrl,
      failed: 'claude-callbacks',
      summary: /not allowed: https:\/\/claude\.com\/api\/mcp\/auth_callback$/,
      fix: /gatehouse redirects allow https:\/\/claude\.com\/api\/mcp\/auth_callback/,
    },
    {
      name: 'the auth-server was given another RESOURCE_URL than the resource server',
      url: () => resourceMismatch.mcpUrl,
      failed: 'resource-accepted',
      summary: /refuses the resource clients ask for \(invalid_target\)/,
      fix: /Set RESOURCE_URL \(resource_server\.resource\) to the same value on both apps/,
    },
    {
      name: 'the resource server cannot read the revocation feed',
      url: () => feedNotRouted.mcpUrl,
      failed: 'resource-server-revocations',
      summary: /cannot read the revocation feed/,
      fix: /REVOCATION_FEED_URI .* at http:\/\/127\.0\.0\.1:\d+\/oauth\/revocations/,
    },
  ];
  for (const c of cases) {
    test(`${c.name}: exit 1, ${c.failed} fails with its fix`, async () => {
      const { run, report } = await doctorJson([c.url()]);
      assert.equal(run.code, 1, `${run.stdout}\n${run.stderr}`);
      assert.equal(report.ok, false);
      assert.ok(failed(report).includes(c.failed), `failed: ${failed(report).join(', ')}`);
      const result = check(report, c.failed);
      assert.match(result.summary, c.summary);
      assert.match(result.fix ?? '', c.fix);
      assert.match(run.stderr, new RegExp(`doctor: \\d check\\(s\\) failed: .*${c.failed}`));
    });
  }

  test('only the broken thing fails: the missing callback leaves registration itself OK', async () => {
    const { report } = await doctorJson([missingCallback.mcpUrl]);
    assert.deepEqual(failed(report), ['claude-callbacks']);
    assert.equal(check(report, 'registration').status, 'ok');
    assert.equal(check(report, 'resource-accepted').status, 'ok', 'asked with the client registered with the one allowed callback');
  });

  test('only the broken thing fails: the mismatched resource leaves the documents OK, and its 503s are not reported twice', async () => {
    const { report: mismatch } = await doctorJson([resourceMismatch.mcpUrl]);
    assert.deepEqual(failed(mismatch), ['resource-accepted']);
    assert.match(check(mismatch, 'resource-accepted').detail ?? '', /Location: https:\/\/claude\.(ai|com)\/api\/mcp\/auth_callback\?error=invalid_target/);
    const { report: feed } = await doctorJson([feedNotRouted.mcpUrl]);
    assert.deepEqual(failed(feed), ['resource-server-revocations']);
    assert.match(check(feed, 'resource-server-revocations').detail ?? '', /database ok, jwks ok, revocations failed/);
    assert.equal(check(feed, 'resource-server-ready').status, 'skip');
    assert.match(check(feed, 'resource-server-ready').summary, /resource-server-revocations says why/);
  });

  test('registration closed: resource-accepted is not checked, and the deployment still passes', async () => {
    const { run, report } = await doctorJson([registrationClosed.mcpUrl]);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.equal(check(report, 'registration').status, 'warn');
    assert.equal(check(report, 'resource-accepted').status, 'skip');
    assert.match(check(report, 'resource-accepted').summary, /test client of the registration check, and there is none/);
  });
});

describe('gatehouse doctor against servers that are not a deployment', () => {
  let selfSigned: DocumentServer;
  let hung: ReturnType<typeof createTcpServer>;
  const sockets = new Set<Socket>();
  let recorder: ReturnType<typeof createServer>;
  const requests: Array<{ method?: string; url?: string; headers: IncomingHttpHeaders }> = [];
  let certDir: string;
  before(async () => {
    selfSigned = await startDocumentServer();
    hung = createTcpServer((socket) => { sockets.add(socket); });
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
    // Answers POST /<status> with that status (a proxy in front of a stopped or misrouted server), anything else 404.
    recorder = createServer((req, res) => {
      requests.push({ method: req.method, url: req.url, headers: req.headers });
      const status = /^\/(\d{3})$/.exec(req.url ?? '')?.[1];
      res.statusCode = req.method === 'POST' && status ? Number(status) : 404;
      if (res.statusCode === 301) res.setHeader('location', 'https://mcp.example.com/mcp');
      if (res.statusCode === 405) res.setHeader('allow', 'GET');
      if (res.statusCode === 200) {
        // An unprotected MCP server answering with an event stream it keeps open.
        res.setHeader('content-type', 'text/event-stream');
        res.write('event: message\ndata: {}\n\n');
        return;
      }
      res.end();
    });
    await new Promise<void>((resolve) => recorder.listen(0, '127.0.0.1', resolve));
    certDir = mkdtempSync(join(tmpdir(), 'gatehouse-doctor-ca-'));
    writeFileSync(join(certDir, 'ca.pem'), selfSigned.ca);
  });
  after(async () => {
    await selfSigned?.close();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => hung?.close(resolve));
    recorder?.closeAllConnections();
    await new Promise((resolve) => recorder?.close(resolve));
    rmSync(certDir, { recursive: true, force: true });
  });

  test('a self-signed certificate fails mcp-https with the fix, and nothing else is tried', async () => {
    const { run, report } = await doctorJson([`${selfSigned.origin}/mcp`]);
    assert.equal(run.code, 1, run.stderr);
    const tls = check(report, 'mcp-https');
    assert.equal(tls.status, 'fail');
    assert.match(tls.summary, /self-signed/);
    assert.match(tls.detail ?? '', /DEPTH_ZERO_SELF_SIGNED_CERT/);
    assert.match(tls.fix ?? '', /certificate from a public CA/);
    assert.equal(check(report, 'mcp-endpoint').status, 'skip');
    assert.equal(selfSigned.hits.size, 0, 'no request was sent over the untrusted connection');
  });

  test('the same certificate, trusted the way Node trusts extra CAs, passes verification; its one-day life is a warning', async () => {
    const { report } = await doctorJson([`${selfSigned.origin}/mcp`], { NODE_EXTRA_CA_CERTS: join(certDir, 'ca.pem') });
    const tls = check(report, 'mcp-https');
    assert.equal(tls.status, 'warn', JSON.stringify(tls));
    assert.match(tls.summary, /certificate expires in [01] days/);
    assert.match(tls.fix ?? '', /Renew the certificate/);
    assert.equal(check(report, 'mcp-endpoint').status, 'fail', 'the document server has no MCP endpoint');
  });

  test('a server that never answers fails within the timeout instead of hanging', async () => {
    const url = `http://127.0.0.1:${(hung.address() as AddressInfo).port}/mcp`;
    const started = performance.now();
    const { run, report } = await doctorJson([url, '--timeout', '1']);
    assert.equal(run.code, 1, run.stderr);
    const endpoint = check(report, 'mcp-endpoint');
    assert.equal(endpoint.status, 'fail');
    assert.match(endpoint.detail ?? '', /no answer from 127\.0\.0\.1:\d+ within 1 s/);
    assert.match(endpoint.fix ?? '', /did not answer/);
    assert.ok(performance.now() - started < 15_000, 'ended near the timeout');
  });

  const answers: Array<[number, RegExp, RegExp]> = [
    [405, /POST is not allowed here \(405\)/, /check that the proxy forwards POST/],
    [502, /unavailable \(502\)/, /down or the proxy cannot reach it/],
    [500, /server error \(500\)/, /see its log/],
    [301, /redirects \(301\)/, /paste the final URL \(https:\/\/mcp\.example\.com\/mcp\)/],
    [200, /answers 200 without any token/, /does not ask for sign-in/],
  ];
  for (const [status, summary, fix] of answers) {
    test(`an MCP URL that answers ${status} fails mcp-endpoint with its likely cause`, async () => {
      const { run, report } = await doctorJson([`http://127.0.0.1:${(recorder.address() as AddressInfo).port}/${status}`, '--no-register']);
      assert.equal(run.code, 1, run.stderr);
      const endpoint = check(report, 'mcp-endpoint');
      assert.equal(endpoint.status, 'fail');
      assert.match(endpoint.summary, summary);
      assert.match(endpoint.fix ?? '', fix);
    });
  }

  test('an origin root that does not answer MCP requests is a warning that names Claude\'s habit', async () => {
    // The recorder answers POST /201 with 201 (an MCP endpoint that asks for nothing: fails on its own) and POST / with 404.
    const { report } = await doctorJson([`http://127.0.0.1:${(recorder.address() as AddressInfo).port}/201`, '--no-register']);
    const root = check(report, 'mcp-root');
    assert.equal(root.status, 'warn');
    assert.match(root.summary, /origin root does not answer MCP requests \(nothing at this path \(404\)\)/);
    assert.match(root.fix ?? '', /claude\.ai and Claude Desktop .*\(anthropics\/claude-ai-mcp#62\)/);
  });

  test('it sends no credentials: no Authorization, no Cookie on any request', async () => {
    requests.length = 0;
    const { run } = await doctorJson([`http://127.0.0.1:${(recorder.address() as AddressInfo).port}/mcp`]);
    assert.equal(run.code, 1);
    assert.ok(requests.length >= 3, `requests seen: ${requests.length}`);
    assert.deepEqual(requests.filter((r) => r.headers.authorization || r.headers.cookie), []);
    assert.equal(requests[0]!.method, 'POST');
  });
});

describe('gatehouse doctor command line', () => {
  const usageErrors: Array<[string, string[], RegExp]> = [
    ['no URL', ['doctor'], /missing MCP_URL/],
    ['not an http(s) URL', ['doctor', 'ftp://mcp.example.com/mcp'], /not an http\(s\) URL/],
    ['not a URL at all', ['doctor', 'mcp.example.com'], /not an http\(s\) URL/],
    ['two URLs', ['doctor', 'http://127.0.0.1:1/mcp', 'http://127.0.0.1:2/mcp'], /unexpected argument/],
    ['an unknown option', ['doctor', 'http://127.0.0.1:1/mcp', '--fix'], /Unknown option '--fix'/],
    ['a timeout that is not a number', ['doctor', 'http://127.0.0.1:1/mcp', '--timeout', 'soon'], /--timeout takes a number of seconds/],
    // Past 2^31 − 1 ms a timer fires after 1 ms (every check "timed out"), past 2^32 − 1 ms AbortSignal.timeout throws.
    ['a timeout just longer than a timer can wait', ['doctor', 'http://127.0.0.1:1/mcp', '--timeout', '2147484'], /^gatehouse: --timeout is at most 2147483 seconds \(24 days\), the longest a timer can wait, got "2147484"\n/],
    ['a timeout of years', ['doctor', 'http://127.0.0.1:1/mcp', '--timeout', '99999999'], /^gatehouse: --timeout is at most 2147483 seconds/],
    ['a timeout of 1e300 seconds', ['doctor', 'http://127.0.0.1:1/mcp', '--timeout=1e300'], /^gatehouse: --timeout is at most 2147483 seconds/],
  ];
  for (const [what, args, message] of usageErrors) {
    test(`${what} is a usage error (exit 2) that shows the usage`, async () => {
      const run = await gatehouse(args);
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, message);
      assert.match(run.stderr, /gatehouse doctor MCP_URL \[--no-register\] \[--timeout SECONDS\]/);
      assert.equal(run.stdout, '');
    });
  }

  test('a broken local configuration does not matter: the doctor reads none', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-doctor-config-'));
    try {
      writeFileSync(join(dir, 'broken.yaml'), 'auth_server:\n  issuer: [not, a, url]\n');
      const run = await gatehouse(['doctor', `http://127.0.0.1:${await freePort()}/mcp`, '--timeout', '2'], { GATEHOUSE_CONFIG: join(dir, 'broken.yaml') });
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stdout, /FAIL {2}mcp-endpoint +the MCP URL does not answer/);
      assert.match(run.stdout, /connection refused/);
      const other = await gatehouse(['users', 'list'], { GATEHOUSE_CONFIG: join(dir, 'broken.yaml'), DATA_DIR: join(dir, 'data'), KEYS_DIR: join(dir, 'keys') });
      assert.equal(other.code, 1, 'the configuration is broken for the commands that read it');
      assert.match(other.stderr, /Invalid configuration: auth_server\.issuer/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('--help lists the doctor', async () => {
    const run = await gatehouse(['--help']);
    assert.equal(run.code, 0);
    assert.match(run.stdout, /gatehouse doctor MCP_URL/);
  });
});
