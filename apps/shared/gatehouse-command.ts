/**
 * How help text and messages spell the `gatehouse` command, so that what a person copies runs
 * where they read it.
 *
 * - From a clone (TypeScript through tsx): `npx gatehouse`, the package's bin (gatehouse.js). It
 *   prints nothing but the command's output, so `npx gatehouse --json users list | jq …` works;
 *   `npm run gatehouse -- …` puts npm's own header lines on stdout first (unless `-s`).
 * - From the build (`npm run build`, the container image): that bin loads the TypeScript sources
 *   through tsx, and the image has neither, so `npx gatehouse` there fails with "gatehouse: not
 *   found". The compiled CLI is run by its path from the project root (the image's WORKDIR), as
 *   the README's Docker commands spell it.
 */
export const GATEHOUSE_COMMAND = import.meta.url.endsWith('.ts') ? 'npx gatehouse' : 'node dist/apps/auth-server/src/cli/main.js';
