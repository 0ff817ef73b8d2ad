/**
 * What a username may be: 1 to 64 letters, digits or `. _ @ -`, so an email address usually
 * fits and a name never needs quoting on a command line or escaping in a log line.
 *
 * Held to by every name an operator chooses: the users and the bootstrap admin in the
 * configuration (apps/shared/config/), and the users created on the admin pages and with the CLI (both
 * through the auth-server's management/user-admin.ts). Deliberately not held to by federated
 * users: they are named by their upstream's email (or `<upstream>-<sub>`), which may carry other
 * characters (`+`), cut to USERNAME_MAX_LENGTH; refusing such a name would refuse the person. An
 * email that would read as another (a bidirectional override, a line break) names nobody: the
 * user is then `<upstream>-<sub>` (federation/federated-accounts.ts).
 */
export const USERNAME_MAX_LENGTH = 64;

export const USERNAME = new RegExp(`^[A-Za-z0-9._@-]{1,${USERNAME_MAX_LENGTH}}$`);
