/** A CLI command group (`users`, `clients`, …): its subcommands and their usage lines. */
import type { CliContext } from './cli-context.ts';

export type Subcommand = (args: string[], context: CliContext) => Promise<void> | void;

export interface CommandGroup {
  /** One line per subcommand, shown by `gatehouse --help` and on usage errors. */
  usage: string[];
  subcommands: Record<string, Subcommand>;
  /** False for a command that never touches the database (it is then not opened, nor created). Default true. */
  usesDatabase?: boolean;
  /** False for a command that needs no local configuration either (doctor: only its URL). Default true. */
  usesConfig?: boolean;
}
