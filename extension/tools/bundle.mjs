// A page built as one script and one inline stylesheet: the popup's first status otherwise waits
// for each level of its module graph (one round trip each, then the next imports) and for its
// stylesheets. The sources stay small modules (the unit tests import them); the build writes the
// bundle in the entry module's place.
//
// The bundle is a classic script at the end of <body>, not a module: a module runs only once the
// page is parsed, and Chromium paints a first frame (the page's "Loading…") before it; a classic
// script runs as the parser reaches it, so the popup's reads are in flight during that frame.
//
// Each module keeps its own scope (a function run once, dependencies first) and hands on only what
// it exports. Only the forms our sources use are understood — `import { a, b as c } from "./x.js"`,
// `export function|async function|const|class NAME`, `export default NAME;` — and anything else
// fails the build rather than being bundled wrongly (`export let` too: a live binding would not
// follow a reassignment).
import { readFileSync } from "node:fs";
import { dirname, relative, resolve, sep } from "node:path";
import { Script } from "node:vm";

const IMPORT = /^import\s*\{([^}]*)\}\s*from\s*"(\.{1,2}\/[^"]+)";[ \t]*$/gm;
const EXPORT_DECLARATION = /^export\s+((?:async\s+)?function|const|class)\s+([A-Za-z_$][\w$]*)/gm;
const EXPORT_DEFAULT = /^export\s+default\s+([A-Za-z_$][\w$]*);[ \t]*$/gm;
// What is left of a module statement after the forms above: not understood.
const OTHER_MODULE_SYNTAX = /^\s*(import\b|export\b)|\bimport\s*\(|\bimport\.meta\b/m;
const NAME = /^[A-Za-z_$][\w$]*$/;

function specifiers(list, where) {
  return list.split(",").map((s) => s.trim()).filter(Boolean).map((s) => {
    const [name, local = name, ...rest] = s.split(/\s+as\s+/);
    if (rest.length || !NAME.test(name) || !NAME.test(local)) throw new Error(`${where}: cannot bundle import { ${s} }`);
    return name === local ? name : `${name}: ${local}`;
  });
}

/** One module's body in its own function, and the modules it imports (absolute paths). */
function transform(path, root) {
  const where = relative(root, path).split(sep).join("/");
  const imports = [];
  let body = readFileSync(path, "utf8").replace(IMPORT, (_, list, from) => {
    imports.push({ path: resolve(dirname(path), from), names: specifiers(list, where) });
    return "";
  });
  const exported = [];
  body = body.replace(EXPORT_DECLARATION, (_, kind, name) => {
    exported.push(name);
    return `${kind} ${name}`;
  });
  body = body.replace(EXPORT_DEFAULT, (_, name) => {
    exported.push(`default: ${name}`);
    return "";
  });
  const left = body.match(OTHER_MODULE_SYNTAX);
  if (left) throw new Error(`${where}: module syntax the bundler does not understand: ${left[0].trim()}`);
  return {
    where,
    imports,
    exported: new Set(exported.map((e) => e.split(":")[0])),
    text: (name, bound) => [
      `// ---- ${where}`,
      `const ${name} = (() => {`,
      ...imports.map((i) => `const { ${i.names.join(", ")} } = ${bound(i.path)};`),
      body.trim(),
      `return { ${exported.join(", ")} };`,
      "})();",
    ].join("\n"),
  };
}

/** The module at `entry` and every module it imports, relatively, as one classic script's text
 *  (strict, as modules are; nothing declared in the page's global scope). */
export function bundleModules(entry, root) {
  const order = [];
  const modules = new Map();
  const visiting = new Set();
  const visit = (path) => {
    if (modules.has(path)) return;
    if (visiting.has(path)) throw new Error(`${relative(root, path)}: circular import`);
    visiting.add(path);
    const module = transform(path, root);
    for (const dependency of module.imports) visit(dependency.path);
    visiting.delete(path);
    module.name = `module$${order.length}`;
    modules.set(path, module);
    order.push(module);
  };
  visit(resolve(entry));
  // A name imported but not exported would be undefined, silently (e.g. `export const a, b`).
  for (const m of order) {
    for (const i of m.imports) {
      const from = modules.get(i.path);
      const missing = i.names.map((n) => n.split(":")[0]).filter((n) => !from.exported.has(n));
      if (missing.length) throw new Error(`${m.where}: ${from.where} does not export ${missing.join(", ")}`);
    }
  }
  const bound = (path) => modules.get(path).name;
  const built = order.map((m) => m.text(m.name, bound));
  const sources = order.map((m) => m.where).join(", ");
  const text = `// Built by tools/bundle.mjs from ${sources}: edit those.\n(() => {\n"use strict";\n\n` +
    `${built.join("\n\n")}\n})();\n`;
  // Parsed here, so that a bundle the browser could not run fails the build (e.g. a top-level
  // await, which a module allows and a plain function does not).
  new Script(text, { filename: `${relative(root, entry)} (bundled)` });
  return text;
}

const STYLESHEET = /^[ \t]*<link rel="stylesheet" href="([^"]+)">[ \t]*\n/gm;
const INLINE_STYLE = "\u0000style\u0000";
const MODULE_SCRIPT = /^[ \t]*<script type="module" src="([^"]+)"><\/script>[ \t]*\n/gm;

/**
 * The page at `html` (absolute) with its stylesheets inline in one <style>, and its module
 * scripts bundled, each now a classic script at the end of <body>:
 * `{html, scripts: {path relative to root: text}}`.
 */
export function bundlePage(html, root) {
  const dir = dirname(html);
  const where = relative(root, html).split(sep).join("/");
  const css = [];
  let page = readFileSync(html, "utf8").replace(STYLESHEET, (_, href) => {
    const text = readFileSync(resolve(dir, href), "utf8");
    // Inline, a relative url() would resolve against the page, and </style> would end the element.
    if (/url\(|@import|<\/style/i.test(text)) throw new Error(`${href}: cannot be inlined into ${where}`);
    css.push(`/* ---- ${href} */\n${text.trim()}`);
    return css.length === 1 ? INLINE_STYLE : ""; // all of them where the first one was
  });
  page = page.replace(INLINE_STYLE, () => `<style>\n${css.join("\n")}\n</style>\n`);
  const scripts = {};
  const tags = [];
  page = page.replace(MODULE_SCRIPT, (_, src) => {
    const path = resolve(dir, src);
    scripts[relative(root, path).split(sep).join("/")] = bundleModules(path, root);
    tags.push(`<script src="${src}"></script>\n`);
    return "";
  });
  if (tags.length && !page.includes("</body>")) throw new Error(`${where}: no </body> to put its script before`);
  page = page.replace("</body>", () => `${tags.join("")}</body>`);
  return { html: page, scripts };
}
