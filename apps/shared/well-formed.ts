/**
 * Text made well-formed Unicode: each lone surrogate (half of a UTF-16 pair without its other
 * half) becomes U+FFFD, the replacement character, as it would on its way into UTF-8.
 *
 * Why: a JSON body can carry one (`"\ud83d"` is valid JSON), and JSON.parse hands it over as it
 * is. Written as text it turns into U+FFFD on the way to the database (SQLite, PostgreSQL), so a
 * value looked up by the string it was stored from no longer matches it. Written inside a JSON
 * document it stays the escape `\ud83d`, which PostgreSQL's `jsonb` refuses ("invalid input syntax
 * for type json"): the statement fails, and whatever else it carried with it.
 * String.prototype.toWellFormed does the same on Node 20 and later; this keeps the compiler's
 * ES2023 library.
 */
const LONE_SURROGATE = /\p{Cs}/gu;

export function wellFormed(text: string): string {
  return text.replace(LONE_SURROGATE, '\ufffd');
}
