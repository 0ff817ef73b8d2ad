/**
 * The `flowId` that joins the browser steps of one authorization request (authorization →
 * sign_in → consent → redirect) in the connection timeline.
 *
 * Taken from the interaction's `cid`, not its `uid`: oidc-provider makes a new interaction, with a
 * new uid, for each prompt (login, then consent: lib/actions/authorization/interactions.js), and
 * carries the `cid` over from one to the next, so only the cid is the same across the whole
 * request. Hashed (SHA-256, base64url, first 22 characters, 132 bits) because neither is stored:
 * both are handles on a pending sign-in.
 */
import { createHash } from 'node:crypto';

export function flowIdOf(interaction: { cid?: unknown } | undefined): string | undefined {
  const cid = interaction?.cid;
  if (typeof cid !== 'string' || cid === '') return undefined;
  return createHash('sha256').update(cid).digest('base64url').slice(0, 22);
}
