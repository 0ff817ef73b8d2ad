/**
 * Reads a fetch response's body of at most `maxBytes`, for the answers this code asks other
 * servers for (the issuer's JWKS, its revocation feed, a token exchange): a server that answers
 * far more than such an answer ever holds costs no more than `maxBytes` of memory.
 *
 * - Checked by Content-Length at once, else while streaming (no length, or one that lies); over
 *   the cap the body is cancelled, so the rest is never downloaded.
 * - The bytes counted are the decoded ones (fetch undoes `Content-Encoding`): a small compressed
 *   answer that expands past the cap is refused too.
 * - A failure mid-body (the connection closed, the request's AbortSignal fired) rejects with
 *   fetch's own error.
 */

/** The body as UTF-8 text, or undefined when it is longer than `maxBytes`. */
export async function readCappedResponse(response: Response, maxBytes: number): Promise<string | undefined> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > maxBytes) {
    await response.body?.cancel();
    return undefined;
  }
  const reader = response.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    length += value.byteLength;
    if (length > maxBytes) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
