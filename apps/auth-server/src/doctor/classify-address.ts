/**
 * Which kind of address a host resolves to, for saying who can reach it: only a public address is
 * reachable from Anthropic's cloud, where claude.ai and Claude Desktop connectors connect from.
 * Named kinds for the ranges a deployment ends up on by accident (loopback, a LAN, a CGNAT or
 * Tailscale range, link-local); any other special-use range (cimd/special-use-addresses.ts, the
 * SSRF list) is just "special-use".
 */
import { BlockList, isIPv4 } from 'node:net';
import { isSpecialUseAddress } from '../cimd/special-use-addresses.ts';

export type AddressKind = 'public' | 'loopback' | 'private' | 'cgnat' | 'link-local' | 'special-use';

const NAMED: Array<[AddressKind, string, number, 'ipv4' | 'ipv6']> = [
  ['loopback', '127.0.0.0', 8, 'ipv4'], ['loopback', '::1', 128, 'ipv6'],
  ['private', '10.0.0.0', 8, 'ipv4'], ['private', '172.16.0.0', 12, 'ipv4'], ['private', '192.168.0.0', 16, 'ipv4'], ['private', 'fc00::', 7, 'ipv6'],
  ['cgnat', '100.64.0.0', 10, 'ipv4'],
  ['link-local', '169.254.0.0', 16, 'ipv4'], ['link-local', 'fe80::', 10, 'ipv6'],
];

const ranges = new Map<AddressKind, BlockList>();
for (const [kind, network, prefix, family] of NAMED) {
  const list = ranges.get(kind) ?? new BlockList();
  list.addSubnet(network, prefix, family);
  ranges.set(kind, list);
}

export function classifyAddress(address: string): AddressKind {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  const ip = mapped ? mapped[1]! : address;
  const family = isIPv4(ip) ? 'ipv4' : 'ipv6';
  for (const [kind, list] of ranges) if (list.check(ip, family)) return kind;
  return isSpecialUseAddress(ip) ? 'special-use' : 'public';
}

/** Who can reach an address of this kind, in the words the doctor prints. */
export const REACHABLE_FROM: Record<Exclude<AddressKind, 'public'>, string> = {
  loopback: 'only this machine',
  private: 'only machines on the same private network',
  cgnat: 'only machines on the same carrier-grade NAT or VPN (e.g. Tailscale)',
  'link-local': 'only machines on the same network link',
  'special-use': 'no client on the internet (a special-use range)',
};
