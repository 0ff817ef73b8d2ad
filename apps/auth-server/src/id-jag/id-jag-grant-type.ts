/**
 * The names draft-ietf-oauth-identity-assertion-authz-grant-04 gives the Identity Assertion JWT
 * Authorization Grant (ID-JAG) at a Resource Authorization Server.
 */

/** RFC 7523 §2.1: the grant type an ID-JAG is presented with (draft §4.4), as `assertion`. */
export const JWT_BEARER_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/** Draft §3: the JWT `typ` header an ID-JAG MUST carry (RFC 8725 §3.11, explicit typing). */
export const ID_JAG_TYP = 'oauth-id-jag+jwt';

/** Draft §7 / §9.2: the profile named in `authorization_grant_profiles_supported`. */
export const ID_JAG_GRANT_PROFILE = 'urn:ietf:params:oauth:grant-profile:id-jag';
