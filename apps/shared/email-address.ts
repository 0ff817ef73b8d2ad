/**
 * An email address as Gatehouse compares it (allowed_emails, admin_users, an upstream's or an
 * enterprise IdP's email claim): trimmed, ASCII letters in lower case, and nothing else changed.
 *
 * `toLowerCase()` also folds letters outside ASCII onto ASCII ones (U+212A KELVIN SIGN to `k`,
 * U+0130 to `i` and a combining dot), so an upstream's verified `Kate@partner.test` written with
 * the Kelvin sign, an address of its own there, compared equal to the admin `kate@partner.test`
 * and took that admin's scopes and name. Mail systems ignore ASCII case in the domain (RFC 5321
 * §2.4), and Gatehouse, as mail providers do, in the local part too; no other character is folded.
 */
export function comparableEmail(email: string): string {
  return email.trim().replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
}
