/**
 * What the forms of the sign-in and consent pages carry: a CSRF token bound to this browser and
 * this interaction, of one purpose per kind of form, and at most FORM_LIMIT bytes.
 */

/** Bytes an interaction form may have. */
export const FORM_LIMIT = 4096;

/** The sign-in page's forms and the consent page's. */
export const interactionPurpose = (uid: string) => `interaction:${uid}`;

/** The sign-in forms shown by "Sign in as someone else" on a consent page (`switchFrom`). */
export const switchPurpose = (uid: string) => `interaction-switch:${uid}`;

/**
 * The purpose a sign-in form's token (password or upstream) must have in the interaction's step:
 * the sign-in page's in a login step; in a consent step only the switch form's, so that no other
 * form (the consent page's own) signs anyone in there. Undefined: nothing signs in at this step.
 */
export function signInPurpose(interaction: { uid: string; prompt: { name: string } }): string | undefined {
  if (interaction.prompt.name === 'login') return interactionPurpose(interaction.uid);
  if (interaction.prompt.name === 'consent') return switchPurpose(interaction.uid);
  return undefined;
}
