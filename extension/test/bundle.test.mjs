// The page bundler (tools/bundle.mjs): one module that behaves as the modules it was built from,
// and a build error for anything it does not understand.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { bundleModules, bundlePage } from "../tools/bundle.mjs";

const dir = mkdtempSync(join(tmpdir(), "flattr-bundle-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function files(named) {
  const root = mkdtempSync(join(dir, "case-"));
  for (const [name, text] of Object.entries(named)) writeFileSync(join(root, name), text);
  return root;
}

/** The bundle's entry module run as a module; `globalThis.seen` collects what it reports. */
async function run(root, entry = "main.js") {
  globalThis.seen = [];
  const text = bundleModules(join(root, entry), root);
  await import(`data:text/javascript;base64,${Buffer.from(text).toString("base64")}`);
  await new Promise((resolve) => setImmediate(resolve));
  return { text, seen: globalThis.seen };
}

describe("bundleModules", () => {
  it("runs each module once, dependencies first, with its imports, renamed or not", async () => {
    const root = files({
      "shared.js": 'globalThis.seen.push("shared");\nexport const COUNT = 2;\nconst api = { name: "api" };\nexport default api;\n',
      "a.js": 'import { COUNT } from "./shared.js";\nexport function twice(x) {\n  return x * COUNT;\n}\n',
      "b.js": 'import { COUNT as N, default as api } from "./shared.js";\nexport async function named() {\n  return `${api.name}${N}`;\n}\nexport class Box {}\n',
      "main.js": 'import { twice } from "./a.js";\nimport {\n  named,\n  Box,\n} from "./b.js";\nnamed().then((n) => globalThis.seen.push(twice(21), n, typeof Box));\n',
    });
    const { text, seen } = await run(root);
    assert.deepEqual(seen, ["shared", 42, "api2", "function"]);
    assert.doesNotMatch(text, /^\s*(import|export)\b/m);
  });

  it("keeps each module's own names to itself", async () => {
    const root = files({
      "a.js": 'const LIMIT = 1;\nexport const a = () => LIMIT;\n',
      "b.js": 'const LIMIT = 2;\nexport const b = () => LIMIT;\n',
      "main.js": 'import { a } from "./a.js";\nimport { b } from "./b.js";\nglobalThis.seen.push(a(), b());\n',
    });
    assert.deepEqual((await run(root)).seen, [1, 2]);
  });

  const refused = {
    "export let (a live binding)": { "main.js": "export let n = 1;\n" },
    "import * as": { "x.js": "export const a = 1;\n", "main.js": 'import * as x from "./x.js";\n' },
    "a bare module name": { "main.js": 'import { a } from "lib";\n' },
    "export { list }": { "main.js": "const a = 1;\nexport { a };\n" },
    "dynamic import()": { "main.js": 'const later = () => import("./x.js");\n' },
    "a name its module does not export": {
      "x.js": "export const a = 1, b = 2;\n",
      "main.js": 'import { a, b } from "./x.js";\n',
    },
    "top-level await (each module runs in a plain function)": {
      "main.js": "await Promise.resolve();\n",
    },
    "a circular import": {
      "a.js": 'import { b } from "./main.js";\nexport const a = 1;\n',
      "main.js": 'import { a } from "./a.js";\nexport const b = a;\n',
    },
  };
  for (const [what, named] of Object.entries(refused)) {
    it(`fails the build on ${what}`, () => {
      const root = files(named);
      assert.throws(() => bundleModules(join(root, "main.js"), root), /cannot bundle|does not understand|circular|await|does not export/);
    });
  }
});

describe("bundlePage", () => {
  it("puts the stylesheets inline where the first was, in order; the script at the end of <body>", () => {
    const root = files({
      "one.css": "a { color: red; }\n",
      "two.css": "b { color: blue; }\n",
      "main.js": "document.title = 'x';\n",
      "page.html": '<head>\n  <link rel="stylesheet" href="one.css">\n  <link rel="stylesheet" href="two.css">\n  <script type="module" src="main.js"></script>\n</head>\n<body>\n  <p id="last"></p>\n</body>\n',
    });
    const { html, scripts } = bundlePage(join(root, "page.html"), root);
    assert.doesNotMatch(html, /<link|type="module"/);
    assert.match(html, /<style>\n[^]*a \{ color: red; \}[^]*b \{ color: blue; \}[^]*<\/style>\n<\/head>/);
    // A classic script, run as the parser reaches it: after the last element, before any frame.
    assert.match(html, /<p id="last"><\/p>\n<script src="main.js"><\/script>\n<\/body>/);
    assert.deepEqual(Object.keys(scripts), ["main.js"]);
    assert.match(scripts["main.js"], /document\.title = 'x';/);
  });

  it("refuses a stylesheet that would change meaning inline", () => {
    const root = files({
      "one.css": "a { background: url(icon.png); }\n",
      "page.html": '<head>\n  <link rel="stylesheet" href="one.css">\n</head>\n',
    });
    assert.throws(() => bundlePage(join(root, "page.html"), root), /cannot be inlined/);
  });
});
