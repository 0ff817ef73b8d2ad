/**
 * The client_id Dynamic Client Registration hands out: 43 letters and digits, about 256 bits.
 *
 * oidc-provider's default draws 43 characters of base64url, so about one id in 32 starts with `-`
 * or `_`. An administrator cannot pass one starting with `-` to the command line as `--client ID`
 * (an option value starting with `-` is read as another option), and about half hold a `-`
 * somewhere, where a double-click in a terminal or a browser stops selecting. Letters and digits
 * avoid both.
 * Administrators' own ids (`static-…`, `svc-…`) already start with a letter.
 */
import { randomBytes } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
export const REGISTERED_CLIENT_ID_LENGTH = 43;
/** The largest multiple of 62 a byte can hold: a byte at or above it is drawn again, so no character is likelier than another. */
const UNBIASED_BELOW = 256 - (256 % ALPHABET.length);

export function newRegisteredClientId(): string {
  let id = '';
  while (id.length < REGISTERED_CLIENT_ID_LENGTH) {
    for (const byte of randomBytes(REGISTERED_CLIENT_ID_LENGTH)) {
      if (byte < UNBIASED_BELOW && id.length < REGISTERED_CLIENT_ID_LENGTH) id += ALPHABET[byte % ALPHABET.length];
    }
  }
  return id;
}
