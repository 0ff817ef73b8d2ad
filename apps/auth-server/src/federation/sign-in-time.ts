/**
 * When a federated sign-in counts from, and whether the admin pages may take it for a recent one.
 */

/**
 * The `acr` of a sign-in whose time nobody vouched for: OIDC Core §2 gives "0" to authentication
 * that does not meet ISO/IEC 29115 level 1, "authentication using a long-lived browser cookie, for
 * instance". The admin pages never count such a sign-in as recent (web/page-session.ts).
 */
export const UNPROVEN_SIGN_IN_ACR = '0';

/**
 * A federated sign-in's login `ts` (the session's `loginTs`, the ID token's `auth_time`, what the
 * admin pages' idle timeout and re-authentication compare with) and `acr`:
 * - the upstream's `auth_time` whenever its ID token states one (OIDC Core §2: when the End-User
 *   authentication occurred; under a max_age the callback has checked it), never later than `now`;
 * - without one, `now` at acr "0". The upstream may have passed on an SSO session of any age, and
 *   "now" alone let anyone at an unattended browser sign out and back in through that session and
 *   pass for freshly signed in, with every sensitive change open to them.
 */
export function signInTime(authTime: unknown, now: number): { ts: number; acr?: typeof UNPROVEN_SIGN_IN_ACR } {
  if (typeof authTime === 'number' && Number.isFinite(authTime)) return { ts: Math.min(now, Math.floor(authTime)) };
  return { ts: now, acr: UNPROVEN_SIGN_IN_ACR };
}

/**
 * A federated sign-in made after the user's sessions were last ended (the user row read after the
 * upstream's answer names that end) counts from the end, not from the upstream's older
 * `auth_time`: counted from that, it would be taken for a sign-in made before the end
 * (UserStore.signedInBeforeSessionsEnded) and asked again at every try, for as long as the
 * upstream's own session lasts. Its time then is only the end, not a sign-in anyone vouched
 * for: acr "0", which the admin pages never take for a recent one.
 */
export function afterSessionsEnded(time: { ts: number; acr?: typeof UNPROVEN_SIGN_IN_ACR }, user: { sessionsEndedAt: number | null }): { ts: number; acr?: typeof UNPROVEN_SIGN_IN_ACR } {
  return user.sessionsEndedAt !== null && time.ts < user.sessionsEndedAt ? { ts: user.sessionsEndedAt, acr: UNPROVEN_SIGN_IN_ACR } : time;
}
