/**
 * Text cut to a length without cutting a character in two. A JavaScript string's length counts
 * UTF-16 code units, and every character beyond the Basic Multilingual Plane (an emoji, a rarer
 * CJK ideograph) takes two of them, a surrogate pair. Cut between the two and a lone surrogate is
 * left: JSON.stringify writes it as an escape like `\ud83d`, which strict JSON readers refuse
 * (Rust's serde_json: "lone leading surrogate in hex escape"), and UTF-8 cannot encode it at all.
 * So one emoji in the wrong place of an upstream's error could make a client drop the whole
 * answer that quoted it, or a log shipper the whole line.
 *
 * At most `max` code units of `text` are kept (one fewer when the last would be half a pair),
 * then `mark` when anything was cut. `text` itself is assumed well formed.
 */
export function cutText(text: string, max: number, mark = ''): string {
  if (text.length <= max) return text;
  const end = max > 0 && isHighSurrogate(text.charCodeAt(max - 1)) ? max - 1 : max;
  return `${text.slice(0, end)}${mark}`;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
