/**
 * How the help text and the messages spell the command: `npx gatehouse` from a clone, the
 * compiled CLI's path in the build and the container image (apps/shared/gatehouse-command.ts says
 * why; the start banner spells it the same way).
 */
import { GATEHOUSE_COMMAND } from '../../../shared/gatehouse-command.ts';

export const INVOCATION = GATEHOUSE_COMMAND;
