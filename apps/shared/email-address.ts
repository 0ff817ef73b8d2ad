/**
 * An email address as Gatehouse compares it (allowed_emails, admin_users, an upstream's or an
 * enterprise IdP's email claim): ASCII letters in lower case, and nothing else changed.
 *
 * `toLowerCase()` also folds letters outside ASCII onto ASCII ones (U+212A KELVIN SIGN to `k`,
 * U+0130 to `i` and a combining dot), so an upstream's verified `Kate@partner.test` written with
 * the Kelvin sign, an address of its own there, compared equal to the admin `kate@partner.test`
 * and took that admin's scopes and name. Mail systems ignore ASCII case in the domain (RFC 5321
 * §2.4), and Gatehouse, as mail providers do, in the local part too; no other character is folded.
 */
export function comparableEmail(email: string): string {
  return email.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
}

/**
 * Whitespace of any kind, an invisible formatting character (zero-width space, word joiner, soft
 * hyphen, byte order mark, bidirectional marks and overrides) or a control character, anywhere.
 * Not the zero-width joiner and non-joiner, which Persian and Indic names need.
 */
const NOT_PLAIN = /(?![\u200c\u200d])[\p{White_Space}\p{Cf}\p{Cc}\p{Cs}]/u;

/**
 * An email claim (an upstream's, an enterprise IdP's) as Gatehouse uses it, or undefined when it
 * is not a string or holds a character that would make it read, or compare, as another address.
 * Trimmed before (`trim()` removes U+3000, U+00A0, U+FEFF, …), a verified `\u3000kate@partner.test`,
 * an address of its own at the upstream (RFC 6531 lets a local part hold them), compared equal to
 * the admin `kate@partner.test`: it passed allowed_emails and took admin_users' scopes, and a
 * zero-width space inside an address named its user as another's, on every page that lists it.
 */
export function plainEmail(claim: unknown): string | undefined {
  return typeof claim === 'string' && isPlainEmail(claim) ? comparableEmail(claim) : undefined;
}

/** Whether `email` holds none of the characters above: it may name a user, and be kept and shown. */
export function isPlainEmail(email: string): boolean {
  return !NOT_PLAIN.test(email);
}
