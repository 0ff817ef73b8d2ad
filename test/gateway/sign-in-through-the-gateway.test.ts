/**
 * The gateway's main journey with both real apps: an MCP SDK client signs in through the real
 * auth-server (DCR, the sign-in and consent forms, PKCE), and reaches the tools, prompts and
 * resources of real MCP servers behind Gatehouse: server-everything and server-filesystem (on a
 * temp dir) over stdio. A write the read-only token may not make meets the 403 step-up
 * challenge; after stepping up, it succeeds and the file is on disk. An HTTP server with
 * forward_identity (a recording upstream) gets an identity token from the auth-server's token
 * exchange, never the caller's: it verifies with jose against the JWKS with the upstream's URL as
 * audience and names the signed-in user.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { auth, UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { CLI } from '../../apps/auth-server/src/cli/cli-context.ts';
import { TestOAuthClientProvider } from '../helpers/mcp-oauth-client.ts';
import { freePort } from '../helpers/net.ts';
import { startResourceServerBeside } from '../helpers/start-resource-server-beside.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { parseChallenge } from '../helpers/mcp-http.ts';
import { resultText, rpc, waitForServers } from './support/gateway-client.ts';
import { startRecordingUpstream, type RecordingUpstream } from './support/recording-upstream.ts';
import { EVERYTHING, FILESYSTEM, httpServer, stdioServer } from './support/upstreams.ts';

describe('an MCP client signs in and uses MCP servers behind the gateway', { timeout: 60_000 }, () => {
  let authServer: TestAuthServer;
  let rs: Awaited<ReturnType<typeof startResourceServerBeside>>;
  let mcpUrl: string;
  let share: string;
  let recording: RecordingUpstream;
  const provider = new TestOAuthClientProvider('http://127.0.0.1:53682/callback');

  before(async () => {
    share = realpathSync(mkdtempSync(join(tmpdir(), 'gatehouse-gw-share-')));
    writeFileSync(join(share, 'hello.txt'), 'hello from the share\n');
    const port = await freePort();
    mcpUrl = `http://127.0.0.1:${port}/mcp`;
    authServer = await startAuthServer({ env: { RESOURCE_URL: mcpUrl } });
    recording = await startRecordingUpstream();
    // What an administrator does for forward_identity: register the resource server's own client,
    // with the upstreams it may ask identity tokens for.
    const gatewayClient = await authServer.auth.admin.clients.createStatic({
      name: 'Gatehouse gateway', redirectUris: ['https://rs.example/cb'], authMethod: 'client_secret_basic',
      resourceServer: true, upstreamAudiences: [recording.url],
    }, CLI);
    rs = await startResourceServerBeside(authServer, {
      configure(config) {
        // minimal: the first sign-in asks for mcp:read only, so the 403 step-up below is reached.
        config.challengeScopes = 'minimal';
        config.identityClient = { clientId: gatewayClient.clientId, clientSecret: gatewayClient.clientSecret!, tokenEndpoint: `${authServer.issuer}/oauth/token` };
        config.servers = [
          stdioServer('everything', EVERYTHING, ['stdio']),
          stdioServer('files', FILESYSTEM, [share], {
            scopes: { default: 'mcp:read', tools: { write_file: 'mcp:write', edit_file: 'mcp:write', move_file: 'mcp:write', create_directory: 'mcp:write' } },
          }),
          httpServer('rec', recording.url, { forwardIdentity: true }),
        ];
      },
    });
    await waitForServers(new URL(mcpUrl).origin, { everything: 'ready', files: 'ready', rec: 'ready' });
  });
  after(async () => {
    await rs?.close();
    await authServer?.close();
    await recording?.close();
    rmSync(share, { recursive: true, force: true });
  });

  async function connected(): Promise<Client> {
    const client = new Client({ name: 'gatehouse-gateway-e2e', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider }));
    return client;
  }

  test('after the real sign-in, one endpoint lists and calls the built-in tools and every server\'s tools', { timeout: 20_000 }, async () => {
    const first = new Client({ name: 'gatehouse-gateway-e2e', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider });
    await assert.rejects(first.connect(transport), UnauthorizedError, 'no token yet');
    const callback = await provider.signInAt(authServer.issuer, 'admin', ADMIN_PASSWORD);
    await transport.finishAuth(callback.searchParams.get('code')!);
    assert.equal(decodeJwt(provider.savedTokens!.access_token).scope, 'mcp:read');

    const client = await connected();
    const names = (await client.listTools()).tools.map((tool) => tool.name);
    for (const name of ['whoami', 'list_notes', 'everything__echo', 'everything__get-sum', 'files__read_text_file', 'files__list_directory', 'files__write_file']) {
      assert.ok(names.includes(name), `${name} is listed (got ${names.join(', ')})`);
    }
    assert.ok(!names.includes('echo') && !names.includes('read_text_file'), 'upstream tools appear only under their server\'s prefix');

    assert.equal(resultText(await client.callTool({ name: 'everything__echo', arguments: { message: 'through the gate' } })), 'Echo: through the gate');
    assert.match(resultText(await client.callTool({ name: 'everything__get-sum', arguments: { a: 2, b: 40 } })), /42/);
    assert.match(resultText(await client.callTool({ name: 'files__list_directory', arguments: { path: share } })), /\[FILE\] hello\.txt/);
    assert.equal(resultText(await client.callTool({ name: 'files__read_text_file', arguments: { path: join(share, 'hello.txt') } })), 'hello from the share\n');
    const me = (await client.callTool({ name: 'whoami', arguments: {} })).structuredContent as { username: string };
    assert.equal(me.username, 'admin', 'the built-in tools still answer beside the servers\'');
    await client.close();
  });

  test('an HTTP server with forward_identity gets a short-lived identity token for its own URL naming the user, never the caller\'s token', { timeout: 20_000 }, async () => {
    const client = await connected();
    const callerToken = provider.savedTokens!.access_token;
    const from = recording.requests.length;
    assert.equal(resultText(await client.callTool({ name: 'rec__echo', arguments: { text: 'who am I' } })), 'who am I');
    const call = recording.requests.slice(from).find((request) => request.rpcMethods.includes('tools/call'));
    assert.ok(call, 'the call reached the upstream');
    const [scheme, identityToken] = String(call.headers.authorization).split(' ');
    assert.equal(scheme, 'Bearer');
    assert.notEqual(identityToken, callerToken);
    for (const request of recording.requests) assert.ok(!JSON.stringify(request.headers).includes(callerToken), 'the caller\'s token never reaches the upstream');

    // What the README tells an upstream to do: verify against Gatehouse's JWKS, with its own URL as audience.
    const { payload, protectedHeader } = await jwtVerify(identityToken!, createRemoteJWKSet(new URL(`${authServer.issuer}/oauth/jwks`)), {
      issuer: authServer.issuer, audience: recording.url, algorithms: ['RS256'],
    });
    assert.equal(protectedHeader.typ, 'at+jwt');
    assert.equal(payload.sub, (await authServer.auth.users.findByUsername('admin'))!.id);
    assert.equal(payload.scope, 'mcp:read', 'the caller\'s scopes this server may see');
    assert.ok(payload.exp! - payload.iat! <= 300, 'at most 5 minutes');
    await assert.rejects(jwtVerify(identityToken!, createRemoteJWKSet(new URL(`${authServer.issuer}/oauth/jwks`)), { audience: mcpUrl }), 'not usable at Gatehouse\'s own /mcp');
    await client.close();
  });

  test('a service account (client credentials) gets no identity token: the forward_identity server is unavailable to it, the others serve it', { timeout: 20_000 }, async () => {
    const { clientId, clientSecret } = await authServer.auth.admin.serviceAccounts.create({ name: 'Nightly report', authMethod: 'client_secret_basic', scopes: ['mcp:read'] }, CLI);
    const client = new Client({ name: 'nightly-report-script', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl), {
      authProvider: new ClientCredentialsProvider({ clientId, clientSecret: clientSecret!, expectedIssuer: authServer.issuer }),
    }));
    const from = recording.requests.length;
    const refused = await client.callTool({ name: 'rec__echo', arguments: { text: 'who am I' } });
    assert.equal(refused.isError, true);
    assert.match(JSON.stringify(refused.content), /service account has none/);
    assert.ok(!recording.requests.slice(from).some((request) => request.rpcMethods.includes('tools/call')), 'the call never reached the upstream');
    assert.equal((await authServer.auth.admin.audit.query({ event: 'token.exchanged', clientId })).length, 0);
    assert.equal(resultText(await client.callTool({ name: 'everything__echo', arguments: { message: 'hi' } })), 'Echo: hi');
    await client.close();
  });

  test('prompts and resources of the servers are there too, prompts under <server>__<prompt>', { timeout: 20_000 }, async () => {
    const client = await connected();
    const prompts = (await client.listPrompts()).prompts.map((prompt) => prompt.name);
    assert.ok(prompts.includes('everything__simple-prompt') && prompts.includes('everything__args-prompt'), `prompts: ${prompts.join(', ')}`);
    const prompt = await client.getPrompt({ name: 'everything__args-prompt', arguments: { city: 'Lisbon' } });
    assert.match(JSON.stringify(prompt.messages), /weather in Lisbon/);

    const uris = (await client.listResources()).resources.map((resource) => resource.uri);
    const architecture = 'demo://resource/static/document/architecture.md';
    assert.ok(uris.includes(architecture), `resources: ${uris.join(', ')}`);
    const read = await client.readResource({ uri: architecture });
    assert.equal(read.contents[0]?.uri, architecture, 'URIs are not renamed');
    assert.match(String((read.contents[0] as { text?: string }).text), /\S/);
    const templates = (await client.listResourceTemplates()).resourceTemplates.map((template) => template.uriTemplate);
    assert.ok(templates.includes('demo://resource/dynamic/text/{resourceId}'), `templates: ${templates.join(', ')}`);
    const dynamic = await client.readResource({ uri: 'demo://resource/dynamic/text/7' });
    assert.match(String((dynamic.contents[0] as { text?: string }).text), /^Resource 7: /);
    await client.close();
  });

  test('a write with a read-only token meets the 403 step-up challenge; after stepping up it lands on disk', { timeout: 20_000 }, async () => {
    const client = await connected();
    const sessionId = (client.transport as StreamableHTTPClientTransport).sessionId;
    const target = join(share, 'written.txt');
    const raw = await rpc(mcpUrl, provider.savedTokens!.access_token, sessionId, 'tools/call', { name: 'files__write_file', arguments: { path: target, content: 'nope' } });
    assert.equal(raw.status, 403);
    const challenge = parseChallenge(raw.headers.get('www-authenticate'));
    assert.equal(challenge.scheme, 'Bearer');
    assert.equal(challenge.params.error, 'insufficient_scope');
    assert.equal(challenge.params.scope, 'mcp:read mcp:write', 'what the token has plus what the tool needs');
    assert.match(challenge.params.resource_metadata ?? '', /\/\.well-known\/oauth-protected-resource\/mcp$/);
    assert.match(challenge.params.error_description ?? '', /files__write_file/);

    await assert.rejects(
      client.callTool({ name: 'files__write_file', arguments: { path: target, content: 'nope' } }),
      (err: unknown) => err instanceof StreamableHTTPError && err.code === 403,
    );
    await client.close();
    assert.throws(() => readFileSync(target), /ENOENT/, 'the refused call never reached the server');

    provider.invalidateCredentials('tokens');
    assert.equal(await auth(provider, { serverUrl: mcpUrl, scope: 'mcp:read mcp:write' }), 'REDIRECT');
    const callback = await provider.signInAt(authServer.issuer, 'admin', ADMIN_PASSWORD);
    assert.equal(await auth(provider, { serverUrl: mcpUrl, authorizationCode: callback.searchParams.get('code')! }), 'AUTHORIZED');
    assert.equal(decodeJwt(provider.savedTokens!.access_token).scope, 'mcp:read mcp:write');

    const stepped = await connected();
    resultText(await stepped.callTool({ name: 'files__write_file', arguments: { path: target, content: 'stepped up' } }));
    assert.equal(readFileSync(target, 'utf8'), 'stepped up');
    await stepped.close();
  });
});
