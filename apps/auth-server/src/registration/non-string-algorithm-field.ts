/**
 * RFC 7591 §2 and OpenID Connect Dynamic Client Registration §2: every `*_alg` and `*_enc`
 * member of client metadata is a JSON string (a JWA algorithm name).
 *
 * oidc-provider tests some of them with a RegExp before its schema validates their type
 * (`Client.needsSecret`, on the registration body and again in the schema's `required()` step);
 * `RegExp.test` converts its argument to a string, and an object such as `{"toString": 1}`
 * cannot be converted, which made the provider answer 500. Refusing them first keeps the answer
 * `400 invalid_client_metadata`. Deliberately not checked here: whether the algorithm is one we
 * support; the provider's own validation answers that.
 */
const ALGORITHM_FIELD = /_(alg|enc)$/;

/** The first `*_alg`/`*_enc` member whose value is present and not a string, if any. */
export function nonStringAlgorithmField(metadata: Record<string, unknown>): string | undefined {
  return Object.keys(metadata).find((key) => ALGORITHM_FIELD.test(key) && metadata[key] !== undefined && typeof metadata[key] !== 'string');
}
