/**
 * What `clients add` and `services add` have made, said if their output cannot be written
 * (CliContext#committed): the client exists, but its secret (shown only once) and a generated
 * client id were in that output, so it names the client and how to remove it to add it again.
 */
import { INVOCATION } from './invocation.ts';

export function createdClientNote(what: string, created: { clientId: string; clientSecret?: string }): string {
  const lost = created.clientSecret ? ' and its secret, shown only once, is lost' : '';
  return `the ${what} ${created.clientId} was created${lost}; to remove it: ${INVOCATION} clients remove ${created.clientId}`;
}
