/**
 * Dockerfile and docker-compose.yml, checked without a Docker engine: both files are parsed and
 * everything they refer to is checked against the code it must agree with. Environment names
 * against what the configuration reads; ports, volumes and health checks against the configuration each
 * service's environment actually loads to; commands against the build output; health check
 * scripts run for real against running apps.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { ENV_FIELDS } from '../../apps/shared/config/config-fields.ts';
import { loadConfig, type GatehouseConfig } from '../../apps/shared/config/load-config.ts';
import { freePort } from '../helpers/net.ts';
import { REPO_ROOT } from './support/processes.ts';
import { startBothApps, type BothApps } from './support/start-both-apps.ts';

// ---- docker-compose.yml ----------------------------------------------------------------------

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string | number | boolean | null>;
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] };
  restart?: string;
  depends_on?: Record<string, { condition: string }> | string[];
  profiles?: string[];
  network_mode?: string;
  stop_grace_period?: string;
}

const compose = parseYaml(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};

/** Compose variable interpolation ${VAR:-default}, ${VAR-default}, ${VAR}, with `shell` the operator's environment (.env). */
function interpolate(value: string, shell: Record<string, string> = {}): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}/g, (_m, name: string, fallback?: string) => shell[name] || (fallback ?? '')).replace(/\$\$/g, '$');
}

const IMAGE_WORKDIR = '/app';

interface GatehouseService {
  name: string;
  /** Variables this service's configuration reads: the config schema's ENV_FIELDS, GATEHOUSE_CONFIG and secrets its file names. */
  readable: Set<string>;
  app: 'auth-server' | 'resource-server';
  service: Service;
  env: Record<string, string>;
  config: GatehouseConfig;
  port: number;
}

/** The host file a container path comes from, through the service's bind mounts. */
function hostPathOf(service: Service, containerPath: string): string | undefined {
  for (const volume of service.volumes ?? []) {
    const [source, target] = volume.split(':');
    if (target === containerPath && (source!.startsWith('./') || source!.startsWith('/'))) return join(REPO_ROOT, source!);
  }
  return undefined;
}

/** The services that run a Gatehouse app, with the configuration their environment loads to. */
function gatehouseServices(shell: Record<string, string> = {}): GatehouseService[] {
  return Object.entries(compose.services).filter(([, s]) => s.build !== undefined).map(([name, service]) => {
    const main = service.command?.[1] ?? '';
    const app = /dist\/apps\/(auth-server|resource-server)\/src\/main\.js$/.exec(main)?.[1] as GatehouseService['app'] | undefined;
    assert.ok(app, `${name}: runs an app main (${JSON.stringify(service.command)})`);
    const env = Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, interpolate(String(v ?? ''), shell)]));
    const configEnv = { ...env };
    for (const [key, value] of Object.entries(OPERATOR_SET)) if (key in env && env[key] === '') configEnv[key] = value;
    // loadConfig checks both apps, and the auth-server's part needs its key encryption key on
    // PostgreSQL; the resource server itself reads none (loadResourceServerConfig), so none is set.
    if (app === 'resource-server' && env.DATABASE_URL) configEnv.GATEHOUSE_KEY_ENCRYPTION_KEY ??= OPERATOR_SET.GATEHOUSE_KEY_ENCRYPTION_KEY!;
    const readable = new Set([...Object.keys(ENV_FIELDS), 'GATEHOUSE_CONFIG']);
    if (env.GATEHOUSE_CONFIG) {
      const file = hostPathOf(service, env.GATEHOUSE_CONFIG);
      assert.ok(file && existsSync(file), `${name}: GATEHOUSE_CONFIG ${env.GATEHOUSE_CONFIG} is mounted from a file in the repository`);
      configEnv.GATEHOUSE_CONFIG = file;
      for (const secret of secretEnvNames(parseYaml(readFileSync(file, 'utf8')))) readable.add(secret);
    }
    const config = loadConfig(configEnv, IMAGE_WORKDIR);
    const port = app === 'auth-server' ? config.authServer.port : config.resourceServer.port;
    return { name, readable, app, service, env, config, port };
  });
}

/** Values of `client_secret_env` and `password_env` anywhere in a config file: variables it makes the app read. */
function secretEnvNames(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(secretEnvNames);
  if (!value || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, v]) => (key === 'client_secret_env' || key === 'password_env') && typeof v === 'string' ? [v] : secretEnvNames(v));
}

/**
 * Variables the operator must set before starting a profile (the compose file leaves them empty
 * on purpose), with a value of the right form, so the configuration can be loaded here.
 */
const OPERATOR_SET: Record<string, string> = {
  GATEHOUSE_KEY_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
};

// ---- ops/replicas/nginx.conf: which services a load-balancer port forwards to ---------------

const NGINX_CONF = join(REPO_ROOT, 'ops', 'replicas', 'nginx.conf');

/** `listen` port → the `host:port` servers of the upstream it proxies to, from the nginx.conf. */
function nginxRoutes(conf: string): Map<number, string[]> {
  const text = conf.replace(/#.*$/gm, '');
  const upstreams = new Map<string, string[]>();
  for (const [, name, body] of text.matchAll(/upstream\s+(\w+)\s*\{([^}]*)\}/g)) {
    upstreams.set(name!, [...body!.matchAll(/^\s*server\s+([\w.-]+:\d+)/gm)].map((m) => m[1]!));
  }
  const routes = new Map<number, string[]>();
  for (const [, body] of text.matchAll(/server\s*\{((?:[^{}]|\{[^{}]*\})*)\}/g)) {
    const port = /listen\s+(\d+)/.exec(body!)?.[1];
    const upstream = /proxy_pass\s+http:\/\/(\w+)/.exec(body!)?.[1];
    if (port && upstream) routes.set(Number(port), upstreams.get(upstream) ?? []);
  }
  return routes;
}

/** `fetch('http://127.0.0.1:PORT/PATH')` out of a health check's node -e script. */
function healthUrlOf(service: Service): URL {
  const check = service.healthcheck?.test ?? [];
  assert.deepEqual(check.slice(0, 3), ['CMD', 'node', '-e'], 'the health check runs node (the image has no curl)');
  const url = /fetch\('([^']+)'\)/.exec(check[3] ?? '')?.[1];
  assert.ok(url, `a fetch() URL in ${check[3]}`);
  return new URL(url);
}

describe('docker-compose.yml', () => {
  const services = gatehouseServices();
  const byName = new Map(services.map((s) => [s.name, s]));
  const balancer = compose.services['gatehouse-lb'];
  const routes = nginxRoutes(readFileSync(NGINX_CONF, 'utf8'));
  /** The app services a URL of the compose network reaches: the service itself, or the replicas behind the load balancer. */
  const reached = (url: URL): GatehouseService[] => {
    if (url.hostname === 'gatehouse-lb') return (routes.get(Number(url.port)) ?? []).map((server) => byName.get(server.split(':')[0]!)!);
    const service = byName.get(url.hostname);
    return service ? [service] : [];
  };
  const replicated = (s: GatehouseService) => s.service.profiles?.includes('replicas') ?? false;

  test('its comments name README sections that exist', () => {
    // A comment may break a section name across lines: read the comments as one text.
    const comments = readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8').split('\n')
      .map((line) => /^\s*#\s?(.*)$/.exec(line)?.[1]?.trim()).filter((text) => text !== undefined).join(' ');
    const named = [...comments.matchAll(/README(?:\.md)?[,:]\s*"([^"]+)"/g)].map((m) => m[1]!.replace(/\s+/g, ' '));
    assert.ok(named.length >= 3, `sections named: ${named.join(', ')}`);
    const headings = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8').split('\n').filter((line) => /^#{2,4} /.test(line)).map((line) => line.replace(/^#+ /, ''));
    for (const section of named) assert.ok(headings.includes(section), `README.md has a section "${section}"`);
  });

  test('every variable it takes from your shell or .env is named in the README', () => {
    const taken = new Set([...readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8').matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!));
    assert.ok(taken.has('ISSUER'), `variables taken: ${[...taken].join(', ')}`);
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    assert.deepEqual([...taken].filter((name) => !readme.includes(`\`${name}\``)), []);
  });

  test('runs auth-server and resource-server, plus a federated profile and a replicas profile beside them', () => {
    assert.deepEqual(services.filter((s) => !s.service.profiles).map((s) => `${s.name}:${s.app}`).sort(), ['auth-server:auth-server', 'resource-server:resource-server']);
    const federated = services.filter((s) => s.service.profiles?.includes('federated'));
    assert.deepEqual(federated.map((s) => s.app).sort(), ['auth-server', 'resource-server']);
    assert.deepEqual(services.filter(replicated).map((s) => `${s.name}:${s.app}`).sort(),
      ['auth-server-1:auth-server', 'auth-server-2:auth-server', 'resource-server-1:resource-server', 'resource-server-2:resource-server']);
  });

  test('each app service runs a main the build produces, with a restart policy and a stop grace period', () => {
    const build = JSON.parse(readFileSync(join(REPO_ROOT, 'tsconfig.build.json'), 'utf8')) as { compilerOptions: { outDir: string; rootDir: string } };
    assert.deepEqual([build.compilerOptions.outDir, build.compilerOptions.rootDir], ['dist', '.'], 'dist/<path>.js is compiled from <path>.ts');
    for (const { name, service } of services) {
      assert.equal(service.command![0], 'node', `${name}: plain node (signals reach the app; npm would not forward them)`);
      const source = service.command![1]!.replace(/^dist\//, '').replace(/\.js$/, '.ts');
      assert.ok(existsSync(join(REPO_ROOT, source)), `${name}: ${service.command![1]} is built from ${source}`);
      assert.ok(['unless-stopped', 'always'].includes(service.restart ?? ''), `${name}: restart policy`);
      assert.ok(service.stop_grace_period, `${name}: stop grace period`);
    }
  });

  test('every environment variable set is one the apps read, and each service loads a valid configuration', () => {
    for (const { name, env, config, readable } of services) {
      for (const key of Object.keys(env)) assert.ok(readable.has(key), `${name}: ${key} is not read by Gatehouse`);
      assert.equal(config.authServer.host, '0.0.0.0', `${name}: listens on all interfaces inside the container`);
    }
  });

  test('published ports are the ports the apps listen on, on loopback only; replicas are reached only through the load balancer', () => {
    for (const { name, service, port } of services) {
      if (replicated({ name, service } as GatehouseService)) {
        assert.equal(service.ports, undefined, `${name}: not published`);
        continue;
      }
      const published = (service.ports ?? []).map((p) => p.split(':'));
      const own = published.find(([, , container]) => Number(container) === port);
      assert.ok(own, `${name}: publishes its port ${port} (${JSON.stringify(service.ports)})`);
      for (const [host] of published) assert.equal(host, '127.0.0.1', `${name}: published on loopback only`);
    }
    const balanced = (balancer?.ports ?? []).map((p) => p.split(':'));
    assert.deepEqual(balanced.map(([host]) => host), ['127.0.0.1', '127.0.0.1'], 'the load balancer is published on loopback only');
    assert.deepEqual(balanced.map(([, hostPort, container]) => Number(hostPort) === Number(container) && routes.has(Number(container))), [true, true], 'on the ports nginx listens on');
    const hostPorts = Object.values(compose.services).flatMap((s) => (s.ports ?? []).map((p) => p.split(':')[1]));
    assert.equal(new Set(hostPorts).size, hostPorts.length, 'the default and federated stacks can run side by side');
  });

  test('data and keys live in named volumes, mounted where the configuration puts them; replicas on PostgreSQL keep nothing on disk', () => {
    for (const { name, service, app, config } of services) {
      if (replicated({ name, service } as GatehouseService)) {
        assert.ok(config.authServer.database.postgres && config.resourceServer.database.postgres, `${name}: on PostgreSQL`);
        assert.ok((service.volumes ?? []).every((v) => v.endsWith(':ro')), `${name}: no writable volume (${JSON.stringify(service.volumes)})`);
        continue;
      }
      const mounts = new Map((service.volumes ?? []).map((v) => v.split(':')).map(([source, target]) => [target!, source!]));
      const dataDir = posix.dirname(app === 'auth-server' ? config.authServer.databaseFile : config.resourceServer.databaseFile);
      const dataVolume = mounts.get(dataDir);
      assert.ok(dataVolume && dataVolume in compose.volumes, `${name}: a named volume at DATA_DIR ${dataDir}`);
      if (app === 'auth-server') {
        const keysVolume = mounts.get(config.authServer.keysDir);
        assert.ok(keysVolume && keysVolume in compose.volumes, `${name}: a named volume at KEYS_DIR ${config.authServer.keysDir}`);
      } else {
        assert.ok(![...mounts.values()].some((v) => v.includes('keys')), `${name}: the resource server never gets the signing keys`);
      }
    }
    const used = services.flatMap(({ service }) => (service.volumes ?? []).map((v) => v.split(':')[0]!)).filter((v) => !v.startsWith('.'));
    assert.equal(new Set(used).size, used.length, 'no two services share a data or keys volume');
  });

  test('health checks ask /readyz on each app\'s own port', () => {
    for (const { name, service, port } of services) {
      const url = healthUrlOf(service);
      assert.equal(url.hostname, '127.0.0.1');
      assert.equal(Number(url.port), port, `${name}: checks its own port`);
      assert.equal(url.pathname, '/readyz');
    }
  });

  test('each resource server accepts exactly the token lifetime its auth-server issues, by default and with TOKEN_LIFETIME set in .env (README: Upgrading)', () => {
    for (const [shell, seconds] of [[{}, 3600], [{ TOKEN_LIFETIME: '15m' }, 900], [{ TOKEN_LIFETIME: '2h' }, 7200]] as const) {
      const all = gatehouseServices(shell);
      for (const resource of all.filter((s) => s.app === 'resource-server')) {
        const auths = all.filter((s) => s.app === 'auth-server' && s.config.authServer.issuer === resource.config.resourceServer.issuer);
        assert.ok(auths.length > 0, `${resource.name}: its auth-server`);
        for (const auth of auths) assert.equal(auth.config.authServer.accessTokenTtl, seconds, `${auth.name} with ${JSON.stringify(shell)}`);
        assert.equal(resource.config.resourceServer.maxTokenLifetime, seconds, `${resource.name} with ${JSON.stringify(shell)}`);
      }
    }
  });

  test('each resource server trusts its own auth-server: same issuer and resource, keys and revocations fetched over the compose network, started once it is healthy', () => {
    for (const resource of services.filter((s) => s.app === 'resource-server')) {
      const jwks = new URL(resource.config.resourceServer.jwksUri);
      const auths = reached(jwks);
      assert.ok(auths.length > 0 && auths.every((auth) => auth.app === 'auth-server'), `${resource.name}: JWKS_URI reaches auth-server services (${jwks.host})`);
      if (jwks.hostname !== 'gatehouse-lb') assert.equal(Number(jwks.port), auths[0]!.port);
      assert.equal(jwks.pathname, '/oauth/jwks');
      const feed = new URL(resource.config.resourceServer.revocation.feedUri);
      assert.equal(feed.host, jwks.host, `${resource.name}: the revocation feed is read from the same auth-server`);
      assert.equal(feed.pathname, '/oauth/revocations');
      for (const auth of auths) {
        assert.equal(resource.config.resourceServer.issuer, auth.config.authServer.issuer);
        assert.equal(resource.config.resourceServer.resource, auth.config.authServer.resource);
        assert.deepEqual(resource.service.profiles, auth.service.profiles);
        assert.deepEqual((resource.service.depends_on as Record<string, { condition: string }>)[auth.name], { condition: 'service_healthy' });
      }
    }
  });

  test('the example MCP server is reached by the resource-server over the compose network only, pinned to the version the tests run', () => {
    const example = compose.services['mcp-everything'] as Service & { image?: string; environment?: Record<string, string> };
    assert.ok(example, 'an mcp-everything service');
    assert.equal(example.ports, undefined, 'not published: clients reach its tools only through Gatehouse');
    const resource = byName.get('resource-server')!;
    const [server] = resource.config.resourceServer.servers;
    assert.ok(server && server.transport === 'http', 'the resource-server gates one HTTP server');
    const url = new URL(server.url);
    assert.equal(url.hostname, 'mcp-everything');
    assert.equal(url.port, String(example.environment?.PORT), 'on the port the example server listens on');
    assert.ok(!server.forwardIdentity && Object.keys(server.headers).length === 0, 'no credentials needed on the compose network');
    const pinned = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).devDependencies['@modelcontextprotocol/server-everything'] as string;
    assert.ok(example.command?.includes(`@modelcontextprotocol/server-everything@${pinned}`), `runs server-everything ${pinned} (${JSON.stringify(example.command)})`);
  });

  test('each auth-server reads the gateway\'s MCP servers and the connection events from the resource server that trusts it, over the compose network', () => {
    for (const resource of services.filter((s) => s.app === 'resource-server')) {
      for (const auth of reached(new URL(resource.config.resourceServer.jwksUri))) {
        const status = new URL(auth.config.authServer.gatewayStatusUri);
        assert.ok(reached(status).includes(resource), `${auth.name}: GATEWAY_STATUS_URI reaches ${resource.name}`);
        if (status.hostname !== 'gatehouse-lb') assert.equal(Number(status.port), resource.port);
        assert.equal(status.pathname, '/gateway/servers');
        const events = new URL(auth.config.authServer.connectionEventsUri);
        assert.ok(reached(events).includes(resource), `${auth.name}: CONNECTION_EVENTS_URI reaches ${resource.name}`);
        assert.equal(events.pathname, '/connections/events');
      }
    }
  });

  test('replicas profile: every replica on one PostgreSQL database, behind a round-robin nginx whose upstreams are the replicas', () => {
    const replicas = services.filter(replicated);
    const urls = new Set(replicas.map((s) => (s.app === 'auth-server' ? s.config.authServer : s.config.resourceServer).database.postgres?.url));
    assert.equal(urls.size, 1, 'one database URL for all of them');
    const url = new URL([...urls][0]!);
    const postgres = compose.services.postgres as Service & { environment: Record<string, string> };
    assert.ok(postgres?.profiles?.includes('replicas'), 'a postgres service in the profile');
    assert.match(postgres.image ?? '', /^postgres:\d+\.\d+/, 'pinned to a release');
    assert.equal(postgres.ports, undefined, 'the database is not published');
    assert.deepEqual([url.hostname, url.port, url.username, url.pathname], ['postgres', '5432', postgres.environment.POSTGRES_USER, `/${postgres.environment.POSTGRES_DB}`]);
    for (const replica of replicas) {
      assert.deepEqual((replica.service.depends_on as Record<string, { condition: string }>).postgres, { condition: 'service_healthy' }, `${replica.name}: starts once the database is ready`);
      assert.equal(replica.config.authServer.trustProxy, true, `${replica.name}: behind the balancer, trusts its X-Forwarded-*`);
    }
    const conf = readFileSync(NGINX_CONF, 'utf8').replace(/#.*$/gm, '');
    assert.doesNotMatch(conf, /\b(ip_hash|hash|sticky|least_conn)\b/, 'round-robin, no affinity');
    assert.doesNotMatch(conf, /non_idempotent/, 'a POST (token request, tool call) is never retried on the other replica');
    const auth = replicas.filter((s) => s.app === 'auth-server');
    const resource = replicas.filter((s) => s.app === 'resource-server');
    const issuer = new URL(auth[0]!.config.authServer.issuer);
    const mcp = new URL(resource[0]!.config.resourceServer.resource);
    assert.deepEqual(routes.get(Number(issuer.port))?.sort(), auth.map((s) => `${s.name}:${s.port}`).sort(), 'the issuer\'s port balances over the auth-servers');
    assert.deepEqual(routes.get(Number(mcp.port))?.sort(), resource.map((s) => `${s.name}:${s.port}`).sort(), 'the MCP URL\'s port balances over the resource servers');
    assert.ok(balancer?.volumes?.includes('./ops/replicas/nginx.conf:/etc/nginx/nginx.conf:ro'), 'nginx runs this configuration');
    assert.match(balancer?.image ?? '', /^nginx:\d+\.\d+\.\d+/, 'nginx pinned to a release');
    for (const name of replicas.map((s) => s.name)) assert.ok((balancer?.depends_on as string[]).includes(name), `the balancer starts after ${name} exists`);
  });

  test('replicas profile: the auth-servers refuse to start until the operator sets the key encryption key', () => {
    const replica = byName.get('auth-server-1')!;
    assert.equal(replica.env.GATEHOUSE_KEY_ENCRYPTION_KEY, '', 'left for the operator to set');
    assert.throws(() => loadConfig({ ...replica.env }, IMAGE_WORKDIR), /key_encryption_key|GATEHOUSE_KEY_ENCRYPTION_KEY/);
  });

  test('federated profile: the upstream IdP shares the auth-server\'s network, so its issuer URL is the same from browser and server', () => {
    const idp = compose.services['upstream-idp'];
    assert.ok(idp, 'an upstream-idp service');
    assert.match(idp.image ?? '', /^ghcr\.io\/navikt\/mock-oauth2-server:\d+\.\d+\.\d+$/, 'a mock OpenID provider, pinned to a release');
    assert.deepEqual(idp.profiles, ['federated']);
    const authName = /^service:(.+)$/.exec(idp.network_mode ?? '')?.[1];
    const auth = byName.get(authName ?? '');
    assert.ok(auth && auth.app === 'auth-server', `network_mode names an auth-server service (${idp.network_mode})`);
    assert.notEqual(auth.config.authServer.mode, 'builtin', 'its sign-in page offers the upstream');
    const upstream = new URL(auth.config.authServer.upstreams[0]!.issuer);
    assert.equal(upstream.hostname, 'localhost', 'a loopback http issuer, the only plain-http kind Gatehouse accepts');
    assert.equal(upstream.port, String(idp.environment?.SERVER_PORT), 'the mock listens where the issuer says');
    assert.ok(auth.service.ports!.includes(`127.0.0.1:${upstream.port}:${upstream.port}`), 'the browser reaches it at the same URL');
    assert.ok(auth.config.authServer.upstreams[0]!.clientSecret, 'the client secret comes from the environment');
  });
});

describe('compose health checks, run for real', () => {
  let apps: BothApps;
  before(async () => {
    apps = await startBothApps();
  });
  after(() => apps.close());

  test('each check script exits 0 against a ready app, and 1 when nothing answers', async () => {
    const closed = await freePort();
    for (const name of ['auth-server', 'resource-server']) {
      const script = compose.services[name]!.healthcheck!.test[3]!;
      const live = new URL(name === 'auth-server' ? apps.issuer : apps.resourceBase).port;
      // Asynchronously: the apps answering the check run in this process.
      const run = (port: string | number) => new Promise<number | null>((resolve) => {
        spawn(process.execPath, ['-e', script.replace(/127\.0\.0\.1:\d+/, `127.0.0.1:${port}`)], { stdio: 'ignore', timeout: 10_000 }).once('exit', resolve);
      });
      assert.equal(await run(live), 0, `${name}: healthy`);
      assert.equal(await run(closed), 1, `${name}: unhealthy when down`);
    }
  });
});

// ---- Dockerfile ------------------------------------------------------------------------------

interface Instruction {
  keyword: string;
  args: string;
}

/** Dockerfile instructions per stage, continuation lines joined, comments dropped. */
function dockerStages(): Array<{ from: string; name?: string; instructions: Instruction[] }> {
  const text = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const stages: Array<{ from: string; name?: string; instructions: Instruction[] }> = [];
  for (const line of text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))) {
    const [, keyword = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    if (keyword.toUpperCase() === 'FROM') {
      const [, from = '', name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args) ?? [];
      stages.push({ from, name, instructions: [] });
    } else {
      stages.at(-1)?.instructions.push({ keyword: keyword.toUpperCase(), args });
    }
  }
  return stages;
}

describe('Dockerfile', () => {
  const stages = dockerStages();
  const build = stages.find((s) => s.name === 'build');
  const runtime = stages.at(-1)!;
  const all = (stage: typeof runtime, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);

  test('is multi-stage on Node 22 LTS', () => {
    assert.ok(build, 'a build stage');
    assert.notEqual(runtime, build, 'a separate runtime stage');
    for (const stage of stages) assert.match(stage.from, /^node:22[.-]/, `${stage.name ?? 'runtime'}: Node 22 LTS`);
    const engines = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).engines.node as string;
    assert.match(engines, />=\s*20/, 'Node 22 satisfies package.json engines');
  });

  test('builds better-sqlite3 and the TypeScript in the build stage, then keeps only production dependencies', () => {
    const runs = all(build!, 'RUN').join('\n');
    for (const tool of ['python3', 'make', 'g++']) assert.ok(runs.includes(tool), `the build stage installs ${tool}`);
    assert.match(runs, /npm ci\b/);
    assert.match(runs, /npm run build\b/);
    assert.match(runs, /npm prune --omit=dev\b/);
    assert.ok(!all(runtime, 'RUN').join('\n').includes('npm'), 'the runtime stage installs nothing');
  });

  test('the runtime stage has the compiled app, production modules, migrations and views, and runs as a non-root user', () => {
    const copies = all(runtime, 'COPY');
    for (const needed of ['/app/node_modules', '/app/dist', '/app/package.json']) {
      assert.ok(copies.some((c) => c.startsWith('--from=build') && c.includes(needed)), `copies ${needed} from the build stage`);
    }
    for (const dir of ['migrations', 'views']) assert.ok(copies.includes(`${dir} ./${dir}`), `copies ${dir}/ next to package.json (the project root)`);
    assert.deepEqual(all(runtime, 'WORKDIR'), [IMAGE_WORKDIR]);
    const users = all(runtime, 'USER');
    assert.deepEqual(users, ['node'], 'runs as the unprivileged node user');
    const userIndex = runtime.instructions.findIndex((i) => i.keyword === 'USER');
    const cmdIndex = runtime.instructions.findIndex((i) => i.keyword === 'CMD');
    assert.ok(userIndex >= 0 && userIndex < cmdIndex, 'USER comes before CMD');
  });

  test('its defaults load as a valid configuration whose state directories the image creates for that user', () => {
    const env: Record<string, string> = {};
    for (const args of all(runtime, 'ENV')) for (const [, key, value] of args.matchAll(/(\w+)=(\S+)/g)) env[key!] = value!;
    for (const key of Object.keys(env)) assert.ok(key === 'NODE_ENV' || key in ENV_FIELDS, `ENV ${key} is read by Gatehouse`);
    const config = loadConfig(env, IMAGE_WORKDIR);
    assert.equal(config.authServer.host, '0.0.0.0');
    const runs = all(runtime, 'RUN').join('\n');
    for (const dir of [dirname(config.authServer.databaseFile), config.authServer.keysDir]) {
      assert.ok(runs.includes(`mkdir -p`) && runs.includes(dir), `creates ${dir}`);
    }
    assert.match(runs, /chown -R node:node \/var\/lib\/gatehouse/);
    // The apps make DATA_DIR and KEYS_DIR owner-only when they create them; one the image made first stays as made.
    const ownerOnly = [...runs.matchAll(/chmod 0?700 ([^&\n]+)/g)].flatMap((m) => m[1]!.trim().split(/\s+/));
    for (const dir of [dirname(config.authServer.databaseFile), config.authServer.keysDir]) assert.ok(ownerOnly.includes(dir), `${dir} is mode 0700`);
    assert.deepEqual(all(runtime, 'EXPOSE'), [`${config.authServer.port} ${config.resourceServer.port}`]);
  });

  test('its command starts both apps from the build output; every file it copies from the repository exists and is not ignored', () => {
    assert.deepEqual(JSON.parse(all(runtime, 'CMD')[0]!), ['node', 'dist/apps/start.js']);
    assert.ok(existsSync(join(REPO_ROOT, 'apps', 'start.ts')));
    const ignored = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    for (const stage of stages) {
      for (const args of all(stage, 'COPY').filter((c) => !c.startsWith('--from'))) {
        const sources = args.split(/\s+/).slice(0, -1);
        for (const source of sources) {
          assert.ok(existsSync(join(REPO_ROOT, source)), `COPY ${source} exists`);
          assert.ok(!ignored.includes(source), `COPY ${source} is not in .dockerignore`);
        }
      }
    }
    for (const secret of ['data', 'keys', '.env', 'node_modules']) assert.ok(ignored.includes(secret), `.dockerignore keeps ${secret} out of the build context`);
  });
});
