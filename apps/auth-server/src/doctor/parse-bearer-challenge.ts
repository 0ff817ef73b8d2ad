/**
 * Reads the `Bearer` challenge of a `WWW-Authenticate` header (RFC 6750 §3, RFC 9110 §11.6.1):
 * its auth-params (`resource_metadata`, `scope`, `error`, …), quoted or not. Another scheme's
 * challenge in the same header (e.g. `DPoP …`) ends the Bearer one. Undefined when the header
 * holds no Bearer challenge.
 *
 * Deliberately lenient about spacing and case of the scheme, as clients are; it does not check
 * that a parameter is allowed, only reads what is there.
 */
const PARAM = /^\s*([A-Za-z0-9_!#$%&'*+.^`|~-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+))\s*(?:,|$)/;
const SCHEME = /^\s*,?\s*([A-Za-z0-9_!#$%&'*+.^`|~-]+)(?:\s+|$)/;

export function parseBearerChallenge(header: string): Record<string, string> | undefined {
  let rest = header;
  while (rest.trim() !== '') {
    const scheme = SCHEME.exec(rest);
    if (!scheme) return undefined;
    rest = rest.slice(scheme[0].length);
    const params: Record<string, string> = {};
    let param: RegExpExecArray | null;
    while ((param = PARAM.exec(rest))) {
      params[param[1]!.toLowerCase()] = param[2] !== undefined ? param[2].replace(/\\(.)/g, '$1') : param[3]!;
      rest = rest.slice(param[0].length);
    }
    if (scheme[1]!.toLowerCase() === 'bearer') return params;
  }
  return undefined;
}
