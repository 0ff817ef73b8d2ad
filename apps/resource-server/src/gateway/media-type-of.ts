/**
 * The media type of a Content-Type header value, in lower case and without its parameters:
 * `Text/Event-Stream; charset=utf-8` is `text/event-stream`. Type and subtype are
 * case-insensitive (RFC 9110 §8.3.1), and a server may write them in any case. Does not check
 * that what is left is a valid media type: it is only compared with the ones the caller accepts.
 */
export function mediaTypeOf(contentType: string): string {
  return contentType.split(';', 1)[0]!.trim().toLowerCase();
}
