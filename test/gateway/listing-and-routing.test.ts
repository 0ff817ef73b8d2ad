/**
 * One endpoint for many servers (issue 12, behaviour 1): tools and prompts renamed
 * `<server>__<name>` (shortened predictably past 64 characters, with a warning), everything else
 * in their definitions passed through unchanged (compared with what the same servers list to the
 * SDK client directly), resources routed back to their server by URI with the first server in
 * configuration order owning a URI two servers list, list changes relayed, a server's stderr
 * in the log, and the built-in tools switched off by configuration.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { McpError, ToolListChangedNotificationSchema, type Prompt, type Resource, type ResourceTemplate, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { createLogger } from '../../apps/shared/logger.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { connectAs, errorText, resultText, waitForServers } from './support/gateway-client.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { COLLIDING_URI, EVERYTHING, gatewayName, LONG_LIST, LONG_TOOL_NAME, SCRIPTED, stdioServer } from './support/upstreams.ts';

const BUILT_IN = ['whoami', 'list_notes', 'get_note', 'create_note', 'delete_note', 'recent_activity'];

/** What the server lists to a plain SDK client that connects to it directly (no gateway). */
async function listDirectly(script: string, args: string[]): Promise<{ tools: Tool[]; prompts: Prompt[]; resources: Resource[]; templates: ResourceTemplate[] }> {
  const client = new Client({ name: 'direct', version: '1.0.0' });
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [script, ...args], stderr: 'ignore' }));
  try {
    return {
      tools: (await client.listTools()).tools,
      prompts: (await client.listPrompts()).prompts,
      resources: (await client.listResources()).resources,
      templates: (await client.listResourceTemplates()).resourceTemplates,
    };
  } finally {
    await client.close();
  }
}

describe('the gateway lists and routes the servers\' tools, prompts and resources', { timeout: 60_000 }, () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  const logLines: Array<Record<string, unknown>> = [];
  const clients: Client[] = [];

  before(async () => {
    issuer = await startTestIssuer();
    const logger = createLogger('resource-server', 'debug', { write: (line: string) => void logLines.push(JSON.parse(line)) });
    // Configuration order settles collisions: scripted lists COLLIDING_URI before everything does.
    server = await startResourceServer({
      issuer: issuer.issuer,
      logger,
      config: { servers: [stdioServer('scripted', SCRIPTED), stdioServer('everything', EVERYTHING, ['stdio'])] },
    });
    await waitForServers(server.baseUrl, { scripted: 'ready', everything: 'ready' });
  });
  after(async () => {
    for (const client of clients) await client.close();
    await server?.close();
    await issuer?.close();
  });

  async function connect(): Promise<Client> {
    const { client } = await connectAs(server.mcpUrl, await issuer.mint());
    clients.push(client);
    return client;
  }

  test('each server\'s tools appear as <server>__<tool>, definitions unchanged from what the server lists itself', { timeout: 20_000 }, async () => {
    const client = await connect();
    const listed = new Map((await client.listTools()).tools.map((tool) => [tool.name, tool]));
    for (const name of BUILT_IN) assert.ok(listed.has(name), `built-in ${name} listed`);
    for (const [name, script, args] of [['scripted', SCRIPTED, []], ['everything', EVERYTHING, ['stdio']]] as const) {
      const direct = await listDirectly(script, [...args]);
      assert.ok(direct.tools.length > 3);
      for (const tool of direct.tools) {
        const atGateway = listed.get(gatewayName(name, tool.name));
        assert.ok(atGateway, `${name}'s ${tool.name} is listed as ${gatewayName(name, tool.name)}`);
        assert.deepEqual({ ...atGateway, name: tool.name }, tool, `${tool.name}: description, schemas, annotations and _meta pass through`);
      }
    }
    const described = listed.get('scripted__described')!;
    assert.deepEqual(described._meta, { 'example.com/origin': 'scripted', 'example.com/weight': 3 });
    assert.equal(described.title, 'A Described Tool');
    assert.deepEqual(described.outputSchema?.required, ['forecast']);
  });

  test('a name past 64 characters is shortened to 55 characters, _ and 8 hex digits of its SHA-256, with a warning, and still calls the tool', { timeout: 20_000 }, async () => {
    const client = await connect();
    const full = `scripted__${LONG_TOOL_NAME}`;
    assert.ok(full.length > 64);
    const short = gatewayName('scripted', LONG_TOOL_NAME);
    assert.equal(short.length, 64);
    assert.match(short, /^scripted__summarise-the-quarterly-report-for-every-regi_[0-9a-f]{8}$/);
    const names = (await client.listTools()).tools.map((tool) => tool.name);
    assert.ok(names.includes(short), `listed as ${short}`);
    assert.ok(names.every((name) => name.length <= 64), 'no listed name is longer than 64 characters');
    assert.ok(!names.includes(full));
    assert.equal(resultText(await client.callTool({ name: short, arguments: {} })), 'long name reached');
    assert.ok(logLines.some((line) => line.level === 40 && JSON.stringify(line).includes(LONG_TOOL_NAME)), `a warning names the tool: ${JSON.stringify(logLines)}`);
  });

  test('a server\'s stderr goes to the log, with the server\'s name', { timeout: 10_000 }, async () => {
    await waitFor('the scripted server\'s stderr line in the log', () => logLines.some((line) => {
      const text = JSON.stringify(line);
      return text.includes('scripted server starting') && text.includes('"scripted"');
    }), 5000);
  });

  test('tools/call routes to the right server and keeps the server\'s structured result', { timeout: 20_000 }, async () => {
    const client = await connect();
    const result = await client.callTool({ name: 'scripted__described', arguments: { city: 'Porto' } });
    assert.deepEqual(result.structuredContent, { forecast: 'Sunny in Porto' });
    assert.equal(resultText(await client.callTool({ name: 'everything__echo', arguments: { message: 'x' } })), 'Echo: x');
  });

  // [what, tool name] — names that are no tool of any server, nor a built-in tool
  const unknownTools: Array<[string, string]> = [
    ['an unknown tool of a known server', 'everything__no-such-tool'],
    ['an unknown server', 'nowhere__echo'],
    ['the upstream name without its prefix', 'echo'],
    ['a prefix with a single underscore', 'everything_echo'],
    ['the prefix alone', 'everything__'],
    ['the full name of a shortened tool', `scripted__${LONG_TOOL_NAME}`],
  ];
  for (const [what, name] of unknownTools) {
    test(`calling ${what} is an error, not a call to some server`, { timeout: 10_000 }, async () => {
      const client = await connect();
      const outcome = await client.callTool({ name, arguments: {} }).then((result) => errorText(result), (err: unknown) => {
        assert.ok(err instanceof McpError, `a JSON-RPC error, got ${String(err)}`);
        return err.message;
      });
      assert.match(outcome, /not found|unknown|no such/i);
    });
  }

  test('prompts appear as <server>__<prompt>, unchanged otherwise, and prompts/get routes to their server', { timeout: 20_000 }, async () => {
    const client = await connect();
    const listed = new Map((await client.listPrompts()).prompts.map((prompt) => [prompt.name, prompt]));
    for (const [name, script, args] of [['scripted', SCRIPTED, []], ['everything', EVERYTHING, ['stdio']]] as const) {
      for (const prompt of (await listDirectly(script, [...args])).prompts) {
        const atGateway = listed.get(gatewayName(name, prompt.name));
        assert.ok(atGateway, `${name}'s prompt ${prompt.name} is listed`);
        assert.deepEqual({ ...atGateway, name: prompt.name }, prompt);
      }
    }
    const greeting = await client.getPrompt({ name: 'scripted__greet', arguments: { who: 'Ana' } });
    assert.deepEqual(greeting.messages, [{ role: 'user', content: { type: 'text', text: 'Hello, Ana' } }]);
    const simple = await client.getPrompt({ name: 'everything__simple-prompt' });
    assert.match(JSON.stringify(simple.messages), /simple prompt without arguments/);
    await assert.rejects(client.getPrompt({ name: 'everything__no-such-prompt' }), McpError);
  });

  test('resources keep their URIs; a URI two servers list belongs to the first in configuration order', { timeout: 20_000 }, async () => {
    const client = await connect();
    const listed = (await client.listResources()).resources;
    const scriptedOwn = (await listDirectly(SCRIPTED, [])).resources;
    const everythingOwn = (await listDirectly(EVERYTHING, ['stdio'])).resources;
    assert.ok(everythingOwn.some((resource) => resource.uri === COLLIDING_URI), 'server-everything does list the colliding URI');
    assert.equal(listed.filter((resource) => resource.uri === COLLIDING_URI).length, 1, 'listed once');
    assert.deepEqual(listed.find((resource) => resource.uri === COLLIDING_URI), scriptedOwn.find((resource) => resource.uri === COLLIDING_URI));
    for (const resource of everythingOwn.filter((r) => r.uri !== COLLIDING_URI)) {
      assert.deepEqual(listed.find((r) => r.uri === resource.uri), resource, `${resource.uri} listed unchanged`);
    }

    const collided = await client.readResource({ uri: COLLIDING_URI });
    assert.equal((collided.contents[0] as { text: string }).text, 'the scripted server\'s copy');
    const other = everythingOwn.find((r) => r.uri !== COLLIDING_URI)!;
    const read = await client.readResource({ uri: other.uri });
    assert.equal(read.contents[0]?.uri, other.uri);
  });

  test('resource templates pass through, and a URI matching one is read from its server', { timeout: 20_000 }, async () => {
    const client = await connect();
    const templates = (await client.listResourceTemplates()).resourceTemplates.map((template) => template.uriTemplate);
    assert.ok(templates.includes('scripted://note/{id}'));
    assert.ok(templates.includes('demo://resource/dynamic/text/{resourceId}'));
    assert.equal(((await client.readResource({ uri: 'scripted://note/7' })).contents[0] as { text: string }).text, 'note 7');
    assert.match(((await client.readResource({ uri: 'demo://resource/dynamic/text/3' })).contents[0] as { text: string }).text, /^Resource 3: /);
  });

  // [what, URI]
  const unknownUris: Array<[string, string]> = [
    ['a scheme no server knows', 'nowhere://thing/1'],
    ['a listed URI with a suffix', `${COLLIDING_URI}.bak`],
    ['a URI that matches no template', 'scripted://notes/7'],
    ['a URI with a path traversal', 'demo://resource/static/document/../../../etc/passwd'],
  ];
  for (const [what, uri] of unknownUris) {
    test(`resources/read of ${what} is a JSON-RPC error`, { timeout: 10_000 }, async () => {
      const client = await connect();
      await assert.rejects(client.readResource({ uri }), McpError);
    });
  }

  test('when a server\'s tool list changes, a connected client is told and the new tool is listed', { timeout: 20_000 }, async () => {
    const client = await connect();
    let changed = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      changed += 1;
    });
    const added = resultText(await client.callTool({ name: 'scripted__add-tool', arguments: {} }));
    await waitFor('notifications/tools/list_changed', () => changed > 0, 5000);
    const names = (await client.listTools()).tools.map((tool) => tool.name);
    assert.ok(names.includes(`scripted__${added}`), `${added} is listed after the change`);
    assert.equal(resultText(await client.callTool({ name: `scripted__${added}`, arguments: {} })), added);
  });

  test('a server sending list_changed in a loop costs each session one notice at once and one when it stops, not one per message', { timeout: 20_000 }, async () => {
    const [client, other] = [await connect(), await connect()];
    const told: [number, number] = [0, 0];
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => void (told[0] += 1));
    other.setNotificationHandler(ToolListChangedNotificationSchema, () => void (told[1] += 1));
    assert.equal(resultText(await client.callTool({ name: 'scripted__list-changed-burst', arguments: { count: 2000 } })), 'sent 2000');
    // The first notice at once, the last change told at the end of the stretch (a second).
    await waitFor('the notice after the burst', () => told[0] >= 2 && told[1] >= 2, 5000);
    // A round trip after it: anything still queued would have arrived before this answer.
    await client.listTools();
    await other.listTools();
    assert.deepEqual(told, [2, 2]);
  });
});

describe('built_in_tools: false', { timeout: 30_000 }, () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;

  before(async () => {
    issuer = await startTestIssuer();
    server = await startResourceServer({ issuer: issuer.issuer, config: { builtInTools: false, servers: [stdioServer('scripted', SCRIPTED)] } });
    await waitForServers(server.baseUrl, { scripted: 'ready' });
  });
  after(async () => {
    await server?.close();
    await issuer?.close();
  });

  test('hides whoami, the notes and recent_activity, leaving only the servers\' tools', { timeout: 15_000 }, async () => {
    const { client } = await connectAs(server.mcpUrl, await issuer.mint({ claims: { scope: 'mcp:read mcp:write mcp:admin' } }));
    const names = (await client.listTools()).tools.map((tool) => tool.name);
    for (const name of BUILT_IN) assert.ok(!names.includes(name), `${name} is hidden`);
    assert.ok(names.length > 0 && names.every((name) => name.startsWith('scripted__')), names.join(', '));
    const whoami = await client.callTool({ name: 'whoami', arguments: {} }).then((result) => errorText(result), (err: unknown) => (err as Error).message);
    assert.match(whoami, /not found|unknown/i);
    await client.close();
  });
});

describe('a server whose list is longer than any client can use', { timeout: 60_000 }, () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;

  before(async () => {
    issuer = await startTestIssuer();
    server = await startResourceServer({
      issuer: issuer.issuer,
      config: {
        servers: [
          stdioServer('many', LONG_LIST, ['6', '1000']), // 6,000 tools: listed
          stdioServer('toomany', LONG_LIST, ['11', '1000']), // 11,000 tools: left out
          stdioServer('toolarge', LONG_LIST, ['5', '100', '10000']), // 500 tools of 10 KB, 5 MB: left out
          stdioServer('scripted', SCRIPTED),
        ],
      },
    });
    await waitForServers(server.baseUrl, { many: 'ready', toomany: 'ready', toolarge: 'ready', scripted: 'ready' });
  });
  after(async () => {
    await server?.close();
    await issuer?.close();
  });

  test('is left out of tools/list (more than 10,000 tools, or more than 4 MiB), and the other servers\' tools are listed', { timeout: 30_000 }, async () => {
    const { client } = await connectAs(server.mcpUrl, await issuer.mint());
    try {
      const names = (await client.listTools()).tools.map((tool) => tool.name);
      const from = (prefix: string) => names.filter((name) => name.startsWith(`${prefix}__`)).length;
      assert.equal(from('many'), 6000);
      assert.equal(from('toomany'), 0);
      assert.equal(from('toolarge'), 0);
      assert.ok(from('scripted') > 0);
    } finally {
      await client.close();
    }
  });
});
