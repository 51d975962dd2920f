// `web-ext lint` on both builds; exits 1 when either has an error.
//
// web-ext lints against Firefox's manifest schema. The Chromium build is meant for Chromium only
// (a service-worker background, no gecko id: Chrome 105–120 refuse `background.scripts` in MV3,
// and later versions warn about Firefox keys), so it is linted through a temporary copy whose
// manifest also carries the two keys Firefox requires (`browser_specific_settings.gecko.id`,
// `background.scripts`). Everything else — the sources, every other manifest field — is linted
// as built. The expected warning there is BACKGROUND_SERVICE_WORKER_IGNORED.
// Usage: node extension/tools/lint.mjs [--dist DIR]
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EXT, GECKO_ID } from "./build.mjs";

const WEB_EXT = join(EXT, "node_modules", ".bin", "web-ext");

function lint(dir) {
  let out;
  try {
    out = execFileSync(WEB_EXT, ["lint", "--source-dir", dir, "--no-config-discovery",
      "--output", "json"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (err) {
    out = err.stdout; // exit 1 on errors; the JSON is still on stdout
  }
  return JSON.parse(out);
}

function chromiumLintCopy(dir) {
  const copy = mkdtempSync(join(tmpdir(), "flattr-lint-"));
  cpSync(dir, copy, { recursive: true });
  const path = join(copy, "manifest.json");
  const m = JSON.parse(readFileSync(path, "utf8"));
  m.browser_specific_settings = {
    gecko: { id: GECKO_ID, data_collection_permissions: { required: ["browsingActivity"] } },
  };
  m.background = { ...m.background, scripts: [m.background.service_worker] };
  writeFileSync(path, JSON.stringify(m, null, 2));
  return copy;
}

const i = process.argv.indexOf("--dist");
const dist = i > 0 ? process.argv[i + 1] : join(EXT, "..", "dist");
let errors = 0;
for (const target of ["firefox", "chromium"]) {
  const dir = join(dist, target);
  const source = target === "chromium" ? chromiumLintCopy(dir) : dir;
  try {
    const report = lint(source);
    const s = report.summary;
    console.log(`web-ext lint ${target}: ${s.errors} errors, ${s.warnings} warnings, ${s.notices} notices`);
    for (const kind of ["errors", "warnings"]) {
      for (const m of report[kind]) console.log(`  ${kind.slice(0, -1)} ${m.code} ${m.file ?? ""}: ${m.message}`);
    }
    errors += s.errors;
  } finally {
    if (source !== dir) rmSync(source, { recursive: true, force: true });
  }
}
process.exit(errors > 0 ? 1 : 0);
