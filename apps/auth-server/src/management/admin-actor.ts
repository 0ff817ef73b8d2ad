/** Who made an administrative change, and from where (the audit log records both). */
import type { Actor } from '../audit/audit-log.ts';

export interface ChangedBy {
  actor: Actor;
  /** The client IP for changes made over the web; none for the CLI. */
  ip?: string;
}
