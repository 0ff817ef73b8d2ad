/**
 * What a shared stdio server sends on its own (a log message, an elicitation request) names no
 * caller: the gateway relays it to the caller of the call in flight, and only when every call in
 * flight on that server, as the message is read, comes from one client session
 * (upstream-connection.ts). Here the server writes its message about one user's call in the same
 * chunk as that call's answer. The MCP SDK runs an elicitation's handler two microtasks after
 * reading it, by which time the answer read right behind it has ended the call; deciding there:
 * - with another user's call in flight, only that call was left, and the elicitation, with the
 *   first user's text, went to the other user;
 * - with no other call, none was left, and the elicitation was refused to its own caller.
 * Log messages did not go astray (the SDK runs a notification's handler one microtask after
 * reading it, before the call's end); they are checked all the same.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ElicitRequestSchema, LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { connectAs, resultText, waitForServers } from './support/gateway-client.ts';
import { ONE_WRITE, stdioServer } from './support/upstreams.ts';

/** Calls of one user in each test: each a chance for its message to go astray. */
const ROUNDS = 5;

interface User {
  client: Client;
  /** The data of each log message the user's client received. */
  logs: unknown[];
  /** The message of each elicitation request the user's client received (each declined). */
  elicitations: string[];
}

describe('a shared server\'s message written with the answer to one user\'s call', { timeout: 60_000 }, () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  const clients: Client[] = [];

  before(async () => {
    issuer = await startTestIssuer();
    server = await startResourceServer({ issuer: issuer.issuer, config: { servers: [stdioServer('shared', ONE_WRITE)] } });
    await waitForServers(server.baseUrl, { shared: 'ready' });
  });
  after(async () => {
    for (const client of clients) await client.close();
    await server?.close();
    await issuer?.close();
  });

  /** A user of their own, whose client declares elicitation. */
  async function user(): Promise<User> {
    const { client } = await connectAs(server.mcpUrl, await issuer.mint({ claims: { sub: randomUUID() } }), { capabilities: { elicitation: {} } });
    clients.push(client);
    const found: User = { client, logs: [], elicitations: [] };
    client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => void found.logs.push(notification.params.data));
    client.setRequestHandler(ElicitRequestSchema, async (request) => {
      found.elicitations.push(request.params.message);
      return { action: 'decline' };
    });
    return found;
  }

  /** Runs `during` while a call of `holder` is in flight on the shared server, then ends that call. */
  async function whileHolding(holder: User, other: User, during: () => Promise<void>): Promise<void> {
    let started!: () => void;
    const holding = new Promise<void>((resolve) => { started = resolve; });
    const held = holder.client.callTool({ name: 'shared__hold', arguments: {} }, undefined, { onprogress: () => started() });
    await holding;
    try {
      await during();
    } finally {
      assert.equal(resultText(await other.client.callTool({ name: 'shared__release', arguments: {} })), 'released 1');
    }
    // Whatever was relayed to the holder during its call came before its answer, on the same stream.
    assert.equal(resultText(await held), 'released');
  }

  /** `user` calls `tool` ROUNDS times with texts naming the round; returns the texts. */
  async function callRounds({ client }: User, tool: string, label: string): Promise<string[]> {
    const texts = Array.from({ length: ROUNDS }, (_, round) => `${label} ${round}`);
    for (const text of texts) assert.equal(resultText(await client.callTool({ name: `shared__${tool}`, arguments: { text } })), 'answered');
    return texts;
  }

  /** How the server's elicitations with these texts were answered, once all were. */
  async function outcomesOf(client: Client, texts: string[]): Promise<string[]> {
    return waitFor('the server to have each elicitation answered', async () => {
      const { outcomes } = (await client.callTool({ name: 'shared__elicitation-outcomes', arguments: {} })).structuredContent as { outcomes: string[] };
      const ours = outcomes.filter((outcome) => texts.some((text) => outcome.startsWith(`${text}: `)));
      return ours.length === texts.length ? ours : undefined;
    }, 5000);
  }

  test('a log message is dropped while another user\'s call is in flight: it reaches neither user', async () => {
    const alice = await user();
    const bob = await user();
    await whileHolding(alice, bob, async () => {
      await callRounds(bob, 'log-then-answer', 'bob\'s log');
    });
    assert.deepEqual(alice.logs, [], 'alice received bob\'s log messages');
    assert.deepEqual(bob.logs, [], 'read while two users\' calls were in flight');
  });

  test('a log message of the only call in flight reaches its caller', async () => {
    const bob = await user();
    const texts = await callRounds(bob, 'log-then-answer', 'bob\'s own log');
    assert.deepEqual(bob.logs, texts);
  });

  test('an elicitation is refused while another user\'s call is in flight: it reaches neither user', async () => {
    const alice = await user();
    const bob = await user();
    let texts: string[] = [];
    await whileHolding(alice, bob, async () => {
      texts = await callRounds(bob, 'elicit-then-answer', 'bob\'s question');
    });
    assert.deepEqual(alice.elicitations, [], 'alice received bob\'s elicitations');
    const outcomes = await outcomesOf(bob.client, texts);
    assert.deepEqual(bob.elicitations, []);
    for (const outcome of outcomes) assert.match(outcome, /: refused: .*only during a tool call of a single client session/);
  });

  test('an elicitation of the only call in flight reaches its caller, and its answer goes back', async () => {
    const bob = await user();
    const texts = await callRounds(bob, 'elicit-then-answer', 'bob\'s own question');
    assert.deepEqual(await outcomesOf(bob.client, texts), texts.map((text) => `${text}: decline`));
    assert.deepEqual(bob.elicitations, texts);
  });
});
