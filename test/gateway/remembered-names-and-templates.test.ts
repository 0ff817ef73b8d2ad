/**
 * What the gateway remembers from its servers' lists stays bounded per server, and no server's
 * lists can crowd out another's: URI templates are kept per server (a read goes to the first
 * configured server with a matching template, whichever listed it first), and shortened names
 * learned from lists are forgotten past a bound and learned again from the next list. Before, one
 * upstream listing 10,000 templates stopped every other server's templates from being learned
 * (their resources unreadable, -32002, until a restart), a template first listed by a later
 * server stayed with it after the first configured server listed it too, and an upstream listing
 * new long names in every session grew the table without end. Resource URIs are kept per server
 * too: one URI → server table was rewritten by whichever caller listed last, so a caller whose
 * list lacked the first server handed its URIs to another for every user. The Gateway's tables,
 * called directly: nothing here needs a connection.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Gateway } from '../../apps/resource-server/src/gateway/gateway.ts';
import { createLogger } from '../../apps/shared/logger.ts';
import { gatewayName, httpServer } from './support/upstreams.ts';

const LONG = 'a-tool-name-long-enough-that-its-gateway-name-is-shortened-to-64-characters';

function gatewayOf() {
  const servers = [
    httpServer('first', 'http://127.0.0.1:9/mcp', { scopes: { default: 'mcp:read', tools: { [LONG]: 'mcp:admin' } } }),
    httpServer('noisy', 'http://127.0.0.1:9/mcp'),
    httpServer('late', 'http://127.0.0.1:9/mcp'),
  ];
  const gateway = new Gateway({ servers, maxProcesses: 4, maxProcessesPerUser: 1, logger: createLogger('resource-server', 'silent') });
  const [first, noisy, late] = gateway.upstreams as [typeof gateway.upstreams[0], typeof gateway.upstreams[0], typeof gateway.upstreams[0]];
  return { gateway, first, noisy, late };
}

describe('what the gateway remembers of its servers\' lists', () => {
  test('a server listing 20,000 templates leaves another server\'s template readable', () => {
    const { gateway, noisy, late } = gatewayOf();
    gateway.claimResourceTemplates([{ upstream: noisy, items: Array.from({ length: 20_000 }, (_, i) => ({ uriTemplate: `junk${i}://{x}`, name: `j${i}` })) }]);
    gateway.claimResourceTemplates([{ upstream: late, items: [{ uriTemplate: 'notes://{id}', name: 'note' }] }]);
    assert.equal(gateway.resourceOwner('notes://42')?.config.name, 'late');
    assert.equal(gateway.resourceOwner('junk19999://x')?.config.name, 'noisy', 'the flood\'s latest are kept, up to its bound');
  });

  test('a template first listed by a later server is read from the first configured server once it lists it', () => {
    const { gateway, first, late } = gatewayOf();
    // `first` was down when `late` listed the template.
    gateway.claimResourceTemplates([{ upstream: late, items: [{ uriTemplate: 'doc://{id}', name: 'doc' }] }]);
    assert.equal(gateway.resourceOwner('doc://1')?.config.name, 'late');
    const merged = gateway.claimResourceTemplates([{ upstream: first, items: [{ uriTemplate: 'doc://{id}', name: 'first\'s doc' }] }, { upstream: late, items: [{ uriTemplate: 'doc://{id}', name: 'doc' }] }]);
    assert.deepEqual(merged.map((item) => item.name), ['first\'s doc']);
    assert.equal(gateway.resourceOwner('doc://1')?.config.name, 'first', 'as the merged list shows');
  });

  test('a list that leaves out the first configured server does not hand its URIs to another, for anyone', () => {
    const { gateway, first, late } = gatewayOf();
    gateway.claimResources([{ upstream: first, items: [{ uri: 'doc://report', name: 'report' }] }, { upstream: late, items: [{ uri: 'doc://report', name: 'report' }] }]);
    assert.equal(gateway.resourceOwner('doc://report')?.config.name, 'first');
    // A caller for whom `first` is not listed (a per-user server not started for a service
    // account, out of processes, too slow): the URI was the last lister's for every user after.
    gateway.claimResources([{ upstream: late, items: [{ uri: 'doc://report', name: 'report' }] }]);
    assert.equal(gateway.resourceOwner('doc://report')?.config.name, 'first');
  });

  test('a URI a later server lists inside an earlier server\'s template is the earlier server\'s', () => {
    const { gateway, first, late } = gatewayOf();
    gateway.claimResourceTemplates([{ upstream: first, items: [{ uriTemplate: 'secret://{id}', name: 'secret' }] }]);
    gateway.claimResources([{ upstream: late, items: [{ uri: 'secret://42', name: 'not a secret' }] }]);
    assert.equal(gateway.resourceOwner('secret://42')?.config.name, 'first');
    assert.equal(gateway.resourceOwner('late-only://1'), undefined);
  });

  // The SDK's own matching (a backtracking regex built from the template) took about 2 s on the
  // first URI below, 0.2 s on the second, and 84 s on the third: this test did not end.
  test('templates that backtrack are matched at once, and a URI over 8 KB is matched against none, but found when listed', () => {
    const { gateway, first, noisy, late } = gatewayOf();
    gateway.claimResourceTemplates([{ upstream: first, items: [{ uriTemplate: 'file://{+path}{?rev}', name: 'file' }] }]);
    gateway.claimResourceTemplates([{ upstream: noisy, items: [{ uriTemplate: 'repo://{+owner}/{+repo}/{+path}', name: 'repo' }, { uriTemplate: 'x://{+a}{+b}{+c}{+d}', name: 'x' }] }]);
    assert.equal(gateway.resourceOwner(`file://${'?rev='.repeat(1600)}&`), undefined);
    assert.equal(gateway.resourceOwner(`repo://${'/'.repeat(1016)}\n`), undefined);
    assert.equal(gateway.resourceOwner(`x://${'a'.repeat(1019)}\n`), undefined);
    assert.equal(gateway.resourceOwner(`file://${'a'.repeat(5000)}?rev=1`)?.config.name, 'first');
    assert.equal(gateway.resourceOwner('repo://octo/gatehouse/README.md')?.config.name, 'noisy');
    assert.equal(gateway.resourceOwner(`file://${'a'.repeat(8200)}?rev=1`), undefined);
    // Over 1,000,000 characters the SDK's match threw: a 500 at the HTTP layer's scope lookup.
    assert.equal(gateway.resourceOwner(`file://${'?rev='.repeat(200_001)}&`), undefined);
    const listed = `file://${'b'.repeat(9000)}`;
    gateway.claimResources([{ upstream: late, items: [{ uri: listed, name: 'long' }] }]);
    assert.equal(gateway.resourceOwner(listed)?.config.name, 'late');
  });

  test('shortened names learned from lists are forgotten past a bound; a tool the config names is never', () => {
    const { gateway, first } = gatewayOf();
    const listed = (session: number) => Array.from({ length: 2000 }, (_, i) => ({ name: `${'x'.repeat(60)}-${session}-${i}`, inputSchema: { type: 'object' } }));
    const [earliest] = gateway.expose(first, 'tools', listed(0));
    assert.equal(gateway.route('tools', String(earliest!.name))?.name, `${'x'.repeat(60)}-0-0`);
    // An upstream whose every session lists new long names.
    for (let session = 1; session <= 10; session += 1) gateway.expose(first, 'tools', listed(session));
    assert.equal(gateway.route('tools', String(earliest!.name)), undefined, 'forgotten: the next list teaches it again');
    const latest = gateway.expose(first, 'tools', listed(11)).at(-1)!;
    assert.equal(gateway.route('tools', String(latest.name))?.name, `${'x'.repeat(60)}-11-1999`);
    const configured = gatewayName('first', LONG);
    assert.deepEqual(gateway.route('tools', configured) && { name: gateway.route('tools', configured)!.name, scope: gateway.scopeFor('tools', first, LONG) }, { name: LONG, scope: 'mcp:admin' });
  });
});
