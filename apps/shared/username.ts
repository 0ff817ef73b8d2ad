/**
 * What a username may be: 1 to 64 letters, digits or `. _ @ -`, so an email address usually
 * fits and a name never needs quoting on a command line or escaping in a log line.
 *
 * Held to by every name an operator chooses: the users and the bootstrap admin in the
 * configuration (apps/shared/config/), and the users created on the admin pages and with the CLI (both
 * through the auth-server's management/user-admin.ts). Deliberately not held to by federated
 * users: they are named by their upstream's email (or `<upstream>-<sub>`), which may carry other
 * characters (`+`), cut to USERNAME_MAX_LENGTH with a tag of the identity at the end
 * (federation/federated-accounts.ts `newUserName`); refusing such a name would refuse the person. An
 * email that would read as another (a bidirectional override, a line break) names nobody: the
 * user is then `<upstream>-<sub>` (federation/federated-accounts.ts).
 *
 * Nor may a chosen name have the form of a user id (a UUID, any case): where an administrator
 * names a user by id or username (the CLI, the `?user=` filters), such a name could be another
 * user's id, and the command would act on that other user (`looksLikeUserId`; management/user-admin.ts
 * refuses text that is one user's id and another's username, for names stored before this rule).
 * Federated sign-in refuses to create a user whose `<upstream>-<sub>` name would have that form.
 */
import { UNSHOWABLE_CHARACTER } from './escape-control-characters.ts';

export const USERNAME_MAX_LENGTH = 64;

export const USERNAME = new RegExp(`^[A-Za-z0-9._@-]{1,${USERNAME_MAX_LENGTH}}$`);

/** The form of the ids users are given (randomUUID), in any case. */
const USER_ID_FORM = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `name` has the form of a user id, which no chosen username may have. */
export function looksLikeUserId(name: string): boolean {
  return USER_ID_FORM.test(name);
}

export const USER_ID_FORM_REFUSAL = 'a username cannot have the form of a user id (8-4-4-4-12 hexadecimal digits)';

/**
 * The names the audit log gives who acted when no user did (the auth server's audit/audit-log.ts,
 * and the CLI's `cli`). No chosen username may be one of them, in any case: an administrator
 * called `config` would read, in the audit log, as changes the config file made.
 */
export const ACTOR_NAMES: readonly string[] = ['anonymous', 'cli', 'config', 'service', 'system'];

/** Whether `name` is, in any case, a name the audit log gives what is not a user. */
export function isActorName(name: string): boolean {
  return ACTOR_NAMES.includes(name.replace(/[A-Z]/g, (c) => c.toLowerCase()));
}

export const ACTOR_NAME_REFUSAL = `a username cannot be a name the audit log gives what is not a user (${ACTOR_NAMES.join(', ')})`;

/**
 * Whether a stored name breaks what every name, chosen or federated, is held to today: a name in
 * the form of a user id, an actor's name, or one that steers a display. Only a name stored before those rules can;
 * the admin pages flag it, to be renamed.
 */
export function nameNeedsRenaming(name: string): boolean {
  return looksLikeUserId(name) || isActorName(name) || UNSHOWABLE_CHARACTER.test(name);
}
