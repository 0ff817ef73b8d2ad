/**
 * The part of a client address that one client controls, the key that rate limits
 * (limit-requests.ts) and the sign-in throttle (accounts/sign-in-throttle.ts, keyed by the
 * password form in interactions/) count under.
 *
 * - IPv4: the address itself.
 * - IPv6: the /64 it is in (`2001:db8:0:1::/64`), however it is written (compressed, full,
 *   upper case, with a zone id `%eth0`). An end site (a home, one cloud VM) is given a /64 at
 *   least (RFC 6177), so a client picks freely among 2^64 addresses, and counting each on its
 *   own would let it step around any limit.
 * - IPv4-mapped IPv6 (`::ffff:192.0.2.1`, RFC 4291 §2.5.5.2, how a dual-stack socket reports an
 *   IPv4 peer; also in hex, `::ffff:c000:201`, or in full): the IPv4 address, so one client is one key on either stack.
 * Deliberately not done: validating the address (a string that is no address, which only a
 * trusted proxy's X-Forwarded-For could hand us, is its own key), widening IPv6 past a /64 (a
 * site holding a /56 has 256 keys), or widening IPv4 to a block (CGNAT already puts unrelated
 * people behind one IPv4 address).
 */
export function clientAddressKey(ip: string): string {
  let address = ip.replace(/%.*$/, '');
  if (!address.includes(':')) return address;
  // RFC 4291 §2.2 form 3: the low 32 bits may be written as a dotted IPv4 address.
  const dotted = /^(.*:)(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(2).map(Number) as [number, number, number, number];
    address = `${dotted[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = address.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = (tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right])
    .map((g) => Number.parseInt(g, 16) || 0);
  if (groups.length === 8 && groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff].join('.');
  }
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(':')}::/64`;
}
