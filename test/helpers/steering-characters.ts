/**
 * What a terminal would act on, stated here on its own (not imported from
 * escape-control-characters.ts), so a test checks the product against the list, not against itself:
 * C0 controls but the line feed (a text output keeps only its own line breaks), DEL, C1 controls,
 * the line and paragraph separators, the bidi overrides, embeddings and isolates, the bidi marks
 * (LRM, RLM, ALM), and a surrogate that is not half of a pair.
 */
// eslint-disable-next-line no-control-regex
export const STEERING = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
