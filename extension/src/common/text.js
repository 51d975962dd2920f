// Text the host accepts: well-formed Unicode. JavaScript strings may hold lone surrogates (a
// title cut in the middle of an emoji, or one a page script made); JSON carries them as `\ud800`
// escapes, and the host refuses such a string.
const LONE_SURROGATE = /\p{Surrogate}/u;
const LONE_SURROGATES = /\p{Surrogate}/gu;

export function isWellFormed(text) {
  return !LONE_SURROGATE.test(text);
}

/** String.prototype.toWellFormed (lone surrogates become U+FFFD), also where it is missing
 *  (Chromium before 111). */
export function wellFormed(text) {
  return text.replace(LONE_SURROGATES, "\uFFFD");
}

/** Well-formed `text` of at most `max` UTF-16 units, cut at a character boundary. */
export function clip(text, max) {
  const whole = wellFormed(text);
  if (whole.length <= max) return whole;
  const last = whole.charCodeAt(max - 1);
  const splitsAPair = last >= 0xd800 && last <= 0xdbff; // a high surrogate: its pair is cut off
  return whole.slice(0, splitsAPair ? max - 1 : max);
}
