/**
 * The access token claim that says a token acts for a service account (client credentials,
 * RFC 6749 §4.4), not for a user: its value is the service account's name. Both apps share it:
 * the auth-server adds it (provider/service-token-claims.ts), the resource server reads it.
 *
 * RFC 9068 §2.2 makes `sub` the client's own id when no user is involved, which alone does not
 * tell a service from a user; this claim does, and the resource server also requires `sub` to
 * equal `client_id` whenever it is present.
 */
export const SERVICE_CLAIM = 'gatehouse_service';
