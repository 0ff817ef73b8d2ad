/**
 * How many times a request carried the header `name` (lower case), counted on the headers as
 * sent. Node's `req.headers` keeps only the first of a header that may appear once (Host,
 * Authorization, …) and drops the others without a word, so a request saying two things at once
 * reads as saying the first, while a proxy, WAF or log in front of the app may have read the last.
 * A loop over the raw names rather than `headersDistinct`, which builds every header's array.
 */
export function countRawHeader(rawHeaders: readonly string[], name: string): number {
  let count = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const sent = rawHeaders[i]!;
    if (sent.length === name.length && sent.toLowerCase() === name) count += 1;
  }
  return count;
}
