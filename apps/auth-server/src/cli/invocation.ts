/**
 * How the help text and the messages spell the command. From a clone, `npx gatehouse` runs the
 * package's bin (package.json "bin") and prints nothing but the command's output, so
 * `npx gatehouse --json users list | jq …` works; `npm run gatehouse -- …` puts npm's own header
 * lines on stdout first (unless `-s`).
 */
export const INVOCATION = 'npx gatehouse';
