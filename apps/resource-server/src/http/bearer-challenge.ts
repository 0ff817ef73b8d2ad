/**
 * Builds the `WWW-Authenticate: Bearer …` challenge (RFC 6750 §3) that tells an MCP client how to
 * get a usable token: where the Protected Resource Metadata is (RFC 9728 §5.1) and which scopes to
 * ask for (MCP 2025-11-25, authorization: scope selection and scope challenge handling).
 *
 * Values may be request or upstream data: a 403's `error_description` names the tool, prompt or
 * resource URI the call asked for, which a client sends and an upstream MCP server lists
 * (require-tool-scope.ts). So every value is made safe here, whoever the caller:
 * - RFC 6750 §3 allows only %x20-21 / %x23-5B / %x5D-7E in `error`, `error_description` and
 *   `scope`; any other character (`"`, `\`, CR, LF, anything past `~`) becomes `?`. A value can
 *   then never close its quoted-string and add a parameter of its own, and setHeader never throws
 *   on a character it refuses (which answered 500 instead of the challenge).
 * - In `error_description` and `scope`, `=` becomes `?` too (none of ours has one): MCP SDK
 *   clients (v1, `extractWWWAuthenticateParams`) take the first `name=` anywhere in the header,
 *   inside a quoted string too, and would start their sign-in at a `resource_metadata=` there.
 * - `error_description` is cut to MAX_DESCRIPTION_LENGTH characters (a batch can name many).
 * Deliberately not done: checking that `resource_metadata` is a URL; it is configured, not sent.
 */
export interface BearerChallenge {
  /** Omitted when the request carried no token at all (RFC 6750 §3.1). */
  error?: 'invalid_token' | 'insufficient_scope' | 'invalid_request';
  errorDescription?: string;
  scopes: readonly string[];
  resourceMetadataUrl: string;
}

/** Longest `error_description` sent, in characters; the JSON body still carries all of it. */
export const MAX_DESCRIPTION_LENGTH = 256;

// RFC 6750 §3: error, error_description and scope values are 1*( %x20-21 / %x23-5B / %x5D-7E ).
const OUTSIDE_RFC_6750 = /[^\x20\x21\x23-\x5b\x5d-\x7e]/g;
const OUTSIDE_RFC_6750_OR_EQUALS = /[^\x20\x21\x23-\x3c\x3e-\x5b\x5d-\x7e]/g;

export function bearerChallenge({ error, errorDescription, scopes, resourceMetadataUrl }: BearerChallenge): string {
  const params: string[] = [];
  if (error) params.push(`error="${error.replace(OUTSIDE_RFC_6750, '?')}"`);
  if (error && errorDescription) params.push(`error_description="${cut(errorDescription).replace(OUTSIDE_RFC_6750_OR_EQUALS, '?')}"`);
  if (scopes.length > 0) params.push(`scope="${scopes.join(' ').replace(OUTSIDE_RFC_6750_OR_EQUALS, '?')}"`);
  params.push(`resource_metadata="${resourceMetadataUrl.replace(OUTSIDE_RFC_6750, '?')}"`);
  return `Bearer ${params.join(', ')}`;
}

function cut(description: string): string {
  return description.length > MAX_DESCRIPTION_LENGTH ? `${description.slice(0, MAX_DESCRIPTION_LENGTH - 3)}...` : description;
}
