/**
 * What the forms of the sign-in and consent pages carry: a CSRF token bound to this browser and
 * this interaction, of one purpose per kind of form, and at most FORM_LIMIT bytes.
 */

/** Bytes an interaction form may have. */
export const FORM_LIMIT = 4096;

/** The sign-in page's forms and the consent page's. */
export const interactionPurpose = (uid: string) => `interaction:${uid}`;

/** The password form shown by "Sign in as someone else" on a consent page (`switchFrom`). */
export const switchPurpose = (uid: string) => `interaction-switch:${uid}`;
