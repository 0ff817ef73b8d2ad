/** A configuration mistake; its message is one line naming the field and what is expected. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}
