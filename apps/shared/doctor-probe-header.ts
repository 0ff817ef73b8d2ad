/**
 * The header `gatehouse doctor` puts on its CORS preflights (auth-server doctor/check-cors.ts), so
 * the resource server can tell the doctor's refused origin from a real browser client's
 * (resource-server http/guard-origin.ts): it logs the doctor's at info, a client's at warn.
 *
 * Why a header no browser page can send, rather than trusting what a request says of itself:
 * a page cannot add a header to a preflight (the browser builds it, Fetch §CORS-preflight fetch),
 * and a request of its own carrying a header that is not CORS-safelisted is preceded by a
 * preflight, which a refused origin fails, so that request is never sent (Fetch §CORS-safelisted
 * request-header). So no browser client at a refused origin can hide its refusal behind this
 * header. A client outside a browser could send it, but such a client also chooses its `Origin`,
 * and is served without one: it has no refusal to hide.
 */
export const DOCTOR_PROBE_HEADER = 'gatehouse-doctor';
