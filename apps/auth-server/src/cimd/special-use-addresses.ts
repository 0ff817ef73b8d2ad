/**
 * Addresses an outgoing fetch on behalf of a client must never reach (SSRF): loopback, private,
 * link-local, CGNAT, documentation, benchmarking, multicast and other special-use ranges of the
 * IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890 and updates).
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';

const IPV4: Array<[string, number]> = [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16],
  ['172.16.0.0', 12], ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.31.196.0', 24], ['192.52.193.0', 24],
  ['192.88.99.0', 24], ['192.168.0.0', 16], ['192.175.48.0', 24], ['198.18.0.0', 15], ['198.51.100.0', 24],
  ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
];
const IPV6: Array<[string, number]> = [
  // `::/96` holds the unspecified and loopback addresses and the deprecated IPv4-compatible form
  // (::7f00:1 is 127.0.0.1, RFC 4291 §2.5.5.1); ::ffff:0:0:0/96 the IPv4-translated form (RFC 2765).
  ['::', 96], ['::ffff:0:0:0', 96], ['64:ff9b::', 96], ['64:ff9b:1::', 48], ['100::', 64], ['2001::', 23],
  ['2001:db8::', 32], ['2002::', 16], ['2620:4f:8000::', 48], ['3fff::', 20], ['5f00::', 16],
  ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
];

const blocked = new BlockList();
for (const [network, prefix] of IPV4) blocked.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of IPV6) blocked.addSubnet(network, prefix, 'ipv6');

const LOOPBACK_V4 = new BlockList();
LOOPBACK_V4.addSubnet('127.0.0.0', 8, 'ipv4');

/**
 * True for any special-use address; `allowLoopback` (tests only) lets 127.0.0.0/8 and ::1 through,
 * as written so, never in another spelling (an IPv4-mapped ::ffff:127.0.0.1 stays refused), so
 * that tests can lead a fetch to a special-use address that answers.
 */
export function isSpecialUseAddress(address: string, allowLoopback = false): boolean {
  let ip = address.replace(/^\[|\]$/g, '');
  if (allowLoopback && ((isIPv4(ip) && LOOPBACK_V4.check(ip, 'ipv4')) || ip === '::1')) return false;
  // IPv4-mapped IPv6 (::ffff:10.0.0.1) is judged by its IPv4 part.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) ip = mapped[1]!;
  if (isIPv4(ip)) {
    return blocked.check(ip, 'ipv4');
  }
  if (isIPv6(ip)) {
    return blocked.check(ip, 'ipv6');
  }
  return true; // not an IP address at all: refuse
}
