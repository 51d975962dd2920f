// Builds the extension for each browser family from one source:
//   dist/chromium/  unpacked, with `key` (stable development id), service-worker background
//   dist/firefox/   unpacked, gecko id, event-page background
//   dist/flattr-companion-<browser>-<version>.zip  store packages (Chromium's without `key`:
//                   the Chrome Web Store assigns its own id and refuses uploads that carry one)
// The version is the host's (`__version__` in host/flattr_host/__init__.py): one number for the
// wheel, the extension and `hello`, set in one place.
// Usage: node extension/tools/build.mjs [--out DIR]
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { bundlePage } from "./bundle.mjs";
import { extensionIdFromKey } from "./extension-id.mjs";
import { zip } from "./zip.mjs";

export const EXT = join(dirname(fileURLToPath(import.meta.url)), "..");
const REPO = join(EXT, "..");
// What goes into a build: the sources and the icons (tests, tools and node_modules do not).
const INCLUDE = ["src", "icons"];

export const GECKO_ID = "flattr-companion@flattr-companion.org";
// Firefox 128 (ESR): MV3 event pages with `type: module`, storage.session, and (since 127) the
// content scripts' host permissions granted at install instead of left for the user to find.
export const FIREFOX_MIN = "128.0";
// Chrome 105: a connectNative port keeps the MV3 service worker alive.
export const CHROME_MIN = "105";
const BACKGROUND = "src/background/main.js";
// Pages built as one script and one inline stylesheet (tools/bundle.mjs): the popup is timed from
// a click to its first status, and each module or stylesheet it loads is a round trip before it.
export const BUNDLED_PAGES = ["src/popup/popup.html"];
const ATTENTION_SCRIPT = "src/content/attention.js";

export const VERSION_FILE = join(REPO, "host", "flattr_host", "__init__.py");
// A browser extension's version: one to four dot-separated integers (no "rc1", no leading zeros).
const EXTENSION_VERSION = /^(0|[1-9]\d{0,8})(\.(0|[1-9]\d{0,8})){0,3}$/;

/** The release's version, read (not imported) from the host package. */
export function readVersion(path = VERSION_FILE) {
  const found = readFileSync(path, "utf8").match(/^__version__ = "([^"]*)"$/m);
  if (!found) throw new Error(`${path}: no line __version__ = "X.Y.Z"`);
  if (!EXTENSION_VERSION.test(found[1])) {
    throw new Error(`${path}: version ${found[1]} is not one browsers accept (1 to 4 numbers, e.g. 1.2.0)`);
  }
  return found[1];
}

/** manifest.base.json with the release's version stamped in (the file itself carries none). */
export function readBase() {
  const base = JSON.parse(readFileSync(join(EXT, "manifest.base.json"), "utf8"));
  if ("version" in base) throw new Error("manifest.base.json must not carry a version: it comes from " + VERSION_FILE);
  return { ...base, version: readVersion() };
}

export function readKey() {
  return readFileSync(join(EXT, "dev-key.pub.b64"), "utf8").trim();
}

/** The manifest for `target` ("chromium" | "firefox"); `key` only for the unpacked Chromium build. */
export function manifestFor(target, base = readBase(), { key = null } = {}) {
  const m = structuredClone(base);
  if (target === "chromium") {
    m.minimum_chrome_version = CHROME_MIN;
    m.background = { service_worker: BACKGROUND, type: "module" };
    // `scripting` (both builds) reads the attention content script's world
    // (src/background/pagecall.js) and, in Chromium, injects the content scripts into tabs open
    // before an install, update or re-enable (src/background/inject.js). Chromium lets it run
    // only where host permissions allow, and content-script matches do not count: the same
    // patterns again (no new install warning, no new sites). Firefox counts them.
    m.host_permissions = base.content_scripts.find((c) => c.js.includes(ATTENTION_SCRIPT)).matches;
    if (key) m.key = key;
  } else if (target === "firefox") {
    // `scripting` asks nothing of the user in Firefox (a permission without a prompt) and runs
    // where the content scripts' origins are granted: no host permissions needed.
    m.background = { scripts: [BACKGROUND], type: "module" };
    m.browser_specific_settings = {
      gecko: {
        id: GECKO_ID,
        strict_min_version: FIREFOX_MIN,
        // The extension itself sends nothing over the network, but the URLs that earn a flattr
        // leave the computer (flattr-host submits them to Flattr): say so at install.
        data_collection_permissions: { required: ["browsingActivity"] },
      },
    };
  } else {
    throw new Error(`unknown target ${target}`);
  }
  return m;
}

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith(".")) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...walk(path));
    else out.push(path);
  }
  return out;
}

/** Relative paths (with /) of every file a build contains, manifest excluded. */
export function sourceFiles() {
  return INCLUDE.flatMap((d) => walk(join(EXT, d))).map((p) => relative(EXT, p).split(sep).join("/"));
}

/** Every file the manifest names, so a typo or a missing page fails the build, not the browser. */
export function referencedFiles(m) {
  const files = new Set(Object.values(m.icons ?? {}));
  for (const p of Object.values(m.action?.default_icon ?? {})) files.add(p);
  if (m.action?.default_popup) files.add(m.action.default_popup);
  if (m.options_ui?.page) files.add(m.options_ui.page);
  if (m.background?.service_worker) files.add(m.background.service_worker);
  for (const p of m.background?.scripts ?? []) files.add(p);
  for (const cs of m.content_scripts ?? []) for (const p of cs.js ?? []) files.add(p);
  return [...files];
}

/** What the build writes instead of the source file, by relative path: the bundled pages. */
export function builtReplacements() {
  const replaced = new Map();
  for (const rel of BUNDLED_PAGES) {
    const { html, scripts } = bundlePage(join(EXT, rel), EXT);
    replaced.set(rel, Buffer.from(html));
    for (const [path, text] of Object.entries(scripts)) replaced.set(path, Buffer.from(text));
  }
  return replaced;
}

function buildTarget(target, out, files, key, replaced) {
  const dir = join(out, target);
  rmSync(dir, { recursive: true, force: true });
  const unpacked = manifestFor(target, readBase(), { key: target === "chromium" ? key : null });
  const missing = referencedFiles(unpacked).filter((p) => !files.includes(p));
  if (missing.length) throw new Error(`${target}: the manifest names missing files: ${missing.join(", ")}`);
  const entries = [];
  for (const rel of files) {
    const data = replaced.get(rel) ?? readFileSync(join(EXT, rel));
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), data);
    entries.push({ name: rel, data });
  }
  const text = (m) => Buffer.from(`${JSON.stringify(m, null, 2)}\n`);
  writeFileSync(join(dir, "manifest.json"), text(unpacked));
  const store = manifestFor(target, readBase());
  const zipPath = join(out, `flattr-companion-${target}-${unpacked.version}.zip`);
  writeFileSync(zipPath, zip([{ name: "manifest.json", data: text(store) }, ...entries]));
  return { dir, zipPath };
}

export function build(out = join(REPO, "dist")) {
  const files = sourceFiles();
  const key = readKey();
  const version = readVersion();
  mkdirSync(out, { recursive: true });
  const replaced = builtReplacements();
  const results = {};
  for (const target of ["chromium", "firefox"]) results[target] = buildTarget(target, out, files, key, replaced);
  return { ...results, devId: extensionIdFromKey(key), version };
}

function sha256(path) {
  return createHash("sha256").update(readFileSync(path)).digest("hex").slice(0, 16);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf("--out");
  const out = i > 0 ? process.argv[i + 1] : join(REPO, "dist");
  const r = build(out);
  for (const target of ["chromium", "firefox"]) {
    console.log(`${target}: ${relative(process.cwd(), r[target].dir) || "."}  ` +
      `${relative(process.cwd(), r[target].zipPath)} (sha256 ${sha256(r[target].zipPath)}…)`);
  }
  console.log(`version ${r.version}; Chromium development id ${r.devId}; Firefox id ${GECKO_ID}`);
  if (!existsSync(join(out, "chromium", "manifest.json"))) process.exit(1);
}
