// The build: per-browser manifests, the development id, the fewest permissions, the store zips.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  build, FIREFOX_MIN, GECKO_ID, manifestFor, readKey, readVersion, referencedFiles, sourceFiles, VERSION_FILE,
} from "../tools/build.mjs";
import { extensionIdFromKey } from "../tools/extension-id.mjs";
import { toolbarState } from "../src/background/badge.js";
import { EXT } from "./helpers.mjs";

const DEV_ID = "pceboilfpeijfppedbhfdflpddadaoml";
// `scripting` in both: the background reads the content script's world (Chromium also injects it).
const PERMISSIONS = ["alarms", "idle", "nativeMessaging", "scripting", "storage", "tabs"];

describe("manifests", () => {
  it("derives the documented development id from the key", () => {
    assert.equal(extensionIdFromKey(readKey()), DEV_ID);
  });

  it("Chromium: module service worker, Chrome >= 105, the key", () => {
    const m = manifestFor("chromium", undefined, { key: readKey() });
    assert.equal(m.manifest_version, 3);
    assert.ok(Number(m.minimum_chrome_version) >= 105);
    assert.deepEqual(m.background, { service_worker: "src/background/main.js", type: "module" });
    assert.equal(m.key, readKey());
    assert.equal(m.browser_specific_settings, undefined);
  });

  it("Firefox: module event page, the gecko id, a minimum version with MV3 and storage.session", () => {
    const m = manifestFor("firefox");
    assert.deepEqual(m.background, { scripts: ["src/background/main.js"], type: "module" });
    assert.equal(m.browser_specific_settings.gecko.id, GECKO_ID);
    assert.ok(Number.parseFloat(m.browser_specific_settings.gecko.strict_min_version) >= 115);
    assert.equal(m.browser_specific_settings.gecko.strict_min_version, FIREFOX_MIN);
    assert.equal(m.key, undefined);
  });

  for (const target of ["chromium", "firefox"]) {
    it(`${target}: the fewest permissions, no host permissions, narrow content scripts`, () => {
      const m = manifestFor(target);
      assert.deepEqual([...m.permissions].sort(), PERMISSIONS);
      // Chromium: the attention content script's own patterns, so that it can be injected into
      // tabs open before an install or update (no site beyond what the content script has).
      const hosts = { chromium: ["http://*/*", "https://*/*"], firefox: undefined }[target];
      assert.deepEqual(m.host_permissions, hosts);
      assert.equal(m.optional_permissions, undefined);
      assert.equal(m.incognito, "spanning");
      const [flattr, attention] = m.content_scripts;
      assert.deepEqual(flattr.matches, ["https://flattr.com/*"]);
      assert.deepEqual(flattr.js, ["src/content/flattr.js"]);
      assert.equal(flattr.all_frames, false);
      assert.deepEqual(attention.matches, ["http://*/*", "https://*/*"]);
      assert.equal(attention.all_frames, false);
      assert.equal(m.content_scripts.length, 2);
    });
  }

  it("every file a manifest names is in the build", () => {
    const files = sourceFiles();
    for (const target of ["chromium", "firefox"]) {
      for (const path of referencedFiles(manifestFor(target))) assert.ok(files.includes(path), path);
    }
    assert.ok(!files.some((f) => f.startsWith("test/") || f.includes("node_modules")));
  });
});

describe("version", () => {
  it("is the host's __version__, stamped into both manifests; the sources carry none", () => {
    const version = readFileSync(VERSION_FILE, "utf8").match(/^__version__ = "(.+)"$/m)[1];
    assert.equal(readVersion(), version);
    for (const target of ["chromium", "firefox"]) assert.equal(manifestFor(target).version, version);
    assert.equal(JSON.parse(readFileSync(join(EXT, "manifest.base.json"), "utf8")).version, undefined);
    assert.equal(JSON.parse(readFileSync(join(EXT, "package.json"), "utf8")).version, undefined);
  });

  it("refuses a version browsers would reject, or none", () => {
    const dir = mkdtempSync(join(tmpdir(), "flattr-version-"));
    try {
      const file = join(dir, "__init__.py");
      for (const bad of ["1.0.0rc1", "1.0.0.dev3", "01.2", "1.2.3.4.5", ""]) {
        writeFileSync(file, `__version__ = "${bad}"\n`);
        assert.throws(() => readVersion(file), /not one browsers accept/, bad);
      }
      writeFileSync(file, "VERSION = 3\n");
      assert.throws(() => readVersion(file), /no line __version__/);
      writeFileSync(file, '"""doc"""\n\n__version__ = "2.10.0"\n');
      assert.equal(readVersion(file), "2.10.0");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("build output", () => {
  it("writes both unpacked builds and store zips; the Chromium zip has no key", () => {
    const out = mkdtempSync(join(tmpdir(), "flattr-build-"));
    try {
      const r = build(out);
      assert.equal(r.devId, DEV_ID);
      const chromium = JSON.parse(readFileSync(join(out, "chromium", "manifest.json"), "utf8"));
      assert.equal(chromium.key, readKey());
      assert.ok(existsSync(join(out, "firefox", "src", "background", "main.js")));
      const list = (zipPath) => JSON.parse(execFileSync("python3", ["-c",
        "import json,sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); z.testzip(); " +
        "print(json.dumps({'names': z.namelist(), 'manifest': json.loads(z.read('manifest.json'))}))",
        zipPath], { encoding: "utf8" }));
      const cz = list(r.chromium.zipPath);
      assert.equal(cz.manifest.key, undefined);
      assert.ok(cz.names.includes("src/background/main.js"));
      const fz = list(r.firefox.zipPath);
      assert.equal(fz.manifest.browser_specific_settings.gecko.id, GECKO_ID);
      // Deterministic: the same sources give the same bytes.
      const before = readFileSync(r.firefox.zipPath);
      build(out);
      assert.deepEqual(readFileSync(r.firefox.zipPath), before);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

describe("toolbar", () => {
  const ready = { host: { state: "ready" }, account: { signed_in: true }, flattrsToday: 3 };
  it("shows today's count, '!' when signed out or the host needs attention, off sites greyed", () => {
    assert.deepEqual([toolbarState(ready).text, toolbarState(ready).icon], ["3", "flattr"]);
    assert.equal(toolbarState({ ...ready, flattrsToday: 0 }).text, "");
    assert.equal(toolbarState({ ...ready, flattrsToday: 250 }).text, "99+");
    const out = toolbarState({ ...ready, account: { signed_in: false } });
    assert.deepEqual([out.text, out.icon], ["!", "signed-out"]);
    assert.equal(toolbarState({ host: { state: "missing" } }).text, "!");
    const off = toolbarState(ready, { counts: false, reason: "disabled", site: "example.com" });
    assert.equal(off.icon, "off");
    assert.match(off.title, /example\.com is off/);
    assert.equal(toolbarState(ready, { counts: false, reason: "not_http" }).icon, "flattr");
  });

  it("every icon the toolbar uses exists", () => {
    for (const kind of ["flattr", "off", "signed-out"]) {
      for (const size of [16, 32]) assert.ok(existsSync(join(EXT, "icons", `${kind}-${size}.png`)));
    }
  });
});
