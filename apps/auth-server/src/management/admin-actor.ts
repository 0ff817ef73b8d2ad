/** Who made an administrative change, and from where (the audit log records both). */
import { CONFIG_ACTOR, type Actor } from '../audit/audit-log.ts';

export interface ChangedBy {
  actor: Actor;
  /** The client IP for changes made over the web; none for the CLI. */
  ip?: string;
  /**
   * The provider session (its id, the `_session` cookie's value) a change over the web was made
   * from; none for the CLI. The one session kept when a user changes their own password.
   */
  sessionId?: string;
}

/** The config file, as a start applies what it says of users (apply-configured-users.ts). */
export const CONFIG_FILE: ChangedBy = { actor: CONFIG_ACTOR };
