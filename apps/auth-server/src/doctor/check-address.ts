/**
 * `<role>-address`: where the host resolves, and who can reach it. claude.ai and Claude Desktop
 * connectors connect from Anthropic's cloud over IPv4: they need an A record with a public
 * address. Claude Code and MCP Inspector connect from the user's machine, so a loopback or LAN
 * address is fine for them: such a deployment gets a warning, not a failure.
 *
 * Resolved with dns.lookup (all addresses), i.e. the way every client on this machine resolves it
 * (hosts file included), not by asking a DNS server: from elsewhere the answer may differ.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { fail, ok, warn, type CheckResult } from './doctor-check.ts';
import { classifyAddress, REACHABLE_FROM, type AddressKind } from './classify-address.ts';

export interface AddressCheck {
  result: CheckResult;
  /** False when the host does not resolve: nothing else can be checked on it. */
  resolved: boolean;
  /** Every address is loopback: plain http is then acceptable (OAuth 2.1 §1.5, RFC 8252 §8.3). */
  loopbackOnly: boolean;
}

export async function checkAddress(role: 'mcp' | 'auth', url: URL, timeoutMs: number): Promise<AddressCheck> {
  const id = `${role}-address`;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: Array<{ address: string; family: number }>;
  try {
    addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await withTimeout(lookup(host, { all: true, verbatim: true }), timeoutMs);
  } catch (err) {
    return {
      result: fail(id, `${host} does not resolve to any address`, (err as Error).message,
        `Check the spelling of the host in the URL. If it is right, create a DNS A record for ${host} pointing to the server's public IPv4 address.`),
      resolved: false,
      loopbackOnly: false,
    };
  }
  const seen = addresses.map(({ address, family }) => ({ address, family, kind: classifyAddress(address) }));
  const list = seen.map((a) => `${a.address} (${a.kind})`).join(', ');
  const v4 = seen.filter((a) => a.family === 4);
  const loopbackOnly = seen.every((a) => a.kind === 'loopback');
  const resolved = { resolved: true, loopbackOnly };
  const cloudClients = 'claude.ai and Claude Desktop connectors connect from Anthropic\'s cloud and cannot reach it';

  if (v4.length > 0 && v4.every((a) => a.kind === 'public')) {
    return { result: ok(id, `${host} resolves to a public IPv4 address`, list), ...resolved };
  }
  if (v4.length === 0 && seen.some((a) => a.kind === 'public')) {
    return {
      result: fail(id, `${host} has no IPv4 address (no A record)`, list,
        `claude.ai and Claude Desktop connect over IPv4 only: add a DNS A record for ${host} with the server's public IPv4 address.`),
      ...resolved,
    };
  }
  const special = seen.filter((a) => a.kind !== 'public');
  const kinds = [...new Set(special.map((a) => a.kind as Exclude<AddressKind, 'public'>))];
  if (special.length < seen.length) {
    return {
      result: warn(id, `${host} resolves to public and ${kinds.join('/')} addresses`, list,
        `Clients that pick the ${kinds.join('/')} address cannot connect from elsewhere. Publish only the public address in DNS.`),
      ...resolved,
    };
  }
  return {
    result: warn(id, `${host} is reachable from ${kinds.map((k) => REACHABLE_FROM[k]).join(' and ')}: ${cloudClients}`, list,
      kinds.includes('loopback')
        ? 'Fine for Claude Code and MCP Inspector through its proxy on this machine (Inspector\'s direct browser mode also needs resource_server.allowed_origins: see cors). For claude.ai and Claude Desktop, deploy on a host with a public IPv4 address and https (README: TLS, Production checklist).'
        : 'Fine for clients on that network. For claude.ai and Claude Desktop, publish the server on a public IPv4 address (an A record) with https.'),
    ...resolved,
  };
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from the resolver within ${timeoutMs / 1000} s`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
