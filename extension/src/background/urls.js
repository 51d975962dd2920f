// Small URL predicates shared by the background modules. Pure: no browser API.
import { FLATTR_ORIGIN, SIGN_IN_URL } from "./settings.js";

function parse(url) {
  if (typeof url !== "string" || url === "") return null;
  try {
    return new URL(url);
  } catch {
    return null;
  }
}

/** Only http(s) pages can earn attention; never about:, file:, data:, browser pages. */
export function isHttpUrl(url) {
  const u = parse(url);
  return u !== null && (u.protocol === "http:" || u.protocol === "https:");
}

/** The URL without its #fragment: a fragment change is not a new page. */
export function withoutHash(url) {
  if (typeof url !== "string") return "";
  const i = url.indexOf("#");
  return i === -1 ? url : url.slice(0, i);
}

/** True for a page exactly on https://flattr.com (no port, no credentials, no subdomain). */
export function isFlattrPage(url) {
  const u = parse(url);
  return u !== null && u.origin === FLATTR_ORIGIN && u.username === "" && u.password === "";
}

/** True for the extension's sign-in page: scheme, host and path match; query and hash ignored. */
export function isSignInPage(url) {
  const u = parse(url);
  const want = new URL(SIGN_IN_URL);
  return isFlattrPage(url) && u.pathname === want.pathname;
}
