/**
 * Whether a request body carries a coding the apps do not undo. Nothing in either app decodes a
 * body, and Node's parser undoes only `chunked`: a body labelled with any other coding would be
 * read as it came, while a proxy or firewall in front that decodes by the label inspected
 * something else. Both apps refuse such a body unread (the auth-server's read-body.ts, the MCP
 * endpoint's read-json-rpc-body.ts).
 */

/** A content coding (RFC 9110 §8.4): a `Content-Encoding` other than `identity`. */
export function hasContentCoding(contentEncoding: string | undefined): boolean {
  const coding = contentEncoding?.trim().toLowerCase() ?? '';
  return coding !== '' && coding !== 'identity';
}

/**
 * A transfer coding besides `chunked` (RFC 9112 §7): `Transfer-Encoding: gzip, chunked`, which
 * Node takes apart into chunks and hands on undecoded. `identity` (dropped by RFC 7230, a no-op
 * where it is still sent) counts as none.
 */
export function hasTransferCoding(transferEncoding: string | undefined): boolean {
  if (!transferEncoding) return false;
  return transferEncoding.split(',').some((coding) => !['', 'chunked', 'identity'].includes(coding.trim().toLowerCase()));
}
