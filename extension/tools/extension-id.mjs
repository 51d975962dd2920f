// The Chromium extension id of an unpacked build with a manifest `key`: the first 32 hex digits
// of sha256(DER SubjectPublicKeyInfo), each digit 0-f written as a letter a-p.
import { createHash } from "node:crypto";

export function extensionIdFromKey(base64Key) {
  const der = Buffer.from(base64Key.trim(), "base64");
  const hex = createHash("sha256").update(der).digest("hex").slice(0, 32);
  return [...hex].map((d) => String.fromCharCode(97 + parseInt(d, 16))).join("");
}
