/**
 * A URL as a connection event keeps it: origin and path, never the query or fragment (a
 * redirect_uri's query may carry a client's own state; a full query string is never stored).
 * A value that is not an absolute URL is kept only as far as it reads as one, cut at `?` and `#`,
 * and at most 256 characters: it came from a request and is shown to an admin.
 */
const MAX_LENGTH = 256;

export function originAndPath(value: unknown): string | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  const url = URL.parse(value);
  // A private-use scheme (`cursor://anysphere.cursor-retrieval/oauth/callback`) has no origin.
  const kept = !url ? value.split(/[?#]/, 1)[0]!
    : url.origin !== 'null' ? `${url.origin}${url.pathname}`
      : `${url.protocol}${url.host ? `//${url.host}` : ''}${url.pathname}`;
  return kept.slice(0, MAX_LENGTH);
}
