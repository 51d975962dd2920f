// Shared test helpers: a fake clock, fake timers, the protocol schema validator, fake browser API.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Ajv2020 from "ajv/dist/2020.js";

export const EXT = join(dirname(fileURLToPath(import.meta.url)), "..");
export const REPO = join(EXT, "..");

/** Unix seconds that tests move by hand. */
export function fakeClock(start = 1_700_000_000) {
  const clock = () => clock.t;
  clock.t = start;
  clock.at = (offset) => {
    clock.t = start + offset;
  };
  return clock;
}

/** setTimeout/clearTimeout on a fake millisecond clock; advance(ms) runs what falls due. */
export function fakeTimers() {
  let seq = 1;
  const timers = {
    now: 0,
    pending: new Map(),
    setTimeout(fn, ms) {
      const id = seq++;
      timers.pending.set(id, { fn, at: timers.now + Math.max(0, ms ?? 0) });
      return id;
    },
    clearTimeout(id) {
      timers.pending.delete(id);
    },
    advance(ms) {
      const end = timers.now + ms;
      for (;;) {
        let next = null;
        for (const [id, t] of timers.pending) {
          if (t.at <= end && (next === null || t.at < next[1].at)) next = [id, t];
        }
        if (!next) break;
        timers.pending.delete(next[0]);
        timers.now = next[1].at;
        next[1].fn();
      }
      timers.now = end;
    },
    /** Delays of the timers still pending, sorted. */
    delays() {
      return [...timers.pending.values()].map((t) => t.at - timers.now).sort((a, b) => a - b);
    },
  };
  return timers;
}

let validator = null;

/** protocol.schema.json, generated from the host's models: the one source of the limits. */
export const SCHEMA = JSON.parse(readFileSync(join(REPO, "protocol.schema.json"), "utf8"));
/** The most seconds one segment may carry (all of which the host counts). */
/** `src/<page>/<page>.js` renders with textContent only, its HTML loads no inline or external code
 * (`external`: the links it may have, as a pattern) and its view.js (and common/view.js) touches
 * no DOM or browser API. */
export function assertTextOnlyPage(page, external = /(?!)/) {
  const source = (file) => readFileSync(join(EXT, "src", page, file), "utf8");
  assert.doesNotMatch(source(`${page}.js`), /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/);
  const html = source(`${page}.html`);
  const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
  assert.equal(scripts.length, 1);
  assert.ok(scripts[0][1].includes(`type="module" src="${page}.js"`), scripts[0][1]);
  assert.equal(scripts[0][2].trim(), "");
  assert.doesNotMatch(html, /\son[a-z]+=/i);
  for (const [, link] of html.matchAll(/(?:src|href)="((?:https?:)?\/\/[^"]*)"/g)) {
    assert.match(link, external, link);
  }
  for (const view of [source("view.js"), readFileSync(join(EXT, "src", "common", "view.js"), "utf8")]) {
    assert.doesNotMatch(view, /\b(document|window|chrome|browser)\./);
  }
}

export const SCHEMA_MAX_SEGMENT_SECONDS = SCHEMA.$defs.Segment.properties.seconds.maximum;

/** Every key of `value` is a property of the schema's $defs[name], and the required ones exist:
 * test fixtures checked this way fail when the host renames a field. */
export function assertShape(name, value) {
  const def = SCHEMA.$defs[name];
  for (const key of Object.keys(value)) {
    assert.ok(key in def.properties, `${name} has no field ${key}`);
  }
  for (const key of def.required ?? []) assert.ok(key in value, `${name} needs ${key}`);
}

/** Paths of the strings (keys too) in `value` that are not well-formed Unicode. */
export function malformedStrings(value, path = "$") {
  const bad = (text) => /\p{Surrogate}/u.test(text);
  if (typeof value === "string") return bad(value) ? [path] : [];
  if (!value || typeof value !== "object") return [];
  return Object.entries(value).flatMap(([key, item]) =>
    bad(key) ? [`${path}.${key}`] : malformedStrings(item, `${path}.${key}`));
}

/** Validates an extension → host message against protocol.schema.json's `$defs/Request`, and
 *  that every string is well-formed Unicode (JSON Schema cannot say so; the host refuses it). */
export function validateRequest(message) {
  if (!validator) {
    const schema = SCHEMA;
    // strict: false — the generated schema carries pydantic's `discriminator` and top-level notes.
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    ajv.addSchema(schema);
    validator = ajv.compile({ $ref: `${schema.$id}#/$defs/Request` });
  }
  const ok = validator(message);
  const malformed = malformedStrings(message);
  const errors = [...(ok ? [] : validator.errors), ...malformed.map((at) => `${at}: lone surrogate`)];
  return { ok: errors.length === 0, errors };
}

export function assertValidRequest(assert, message) {
  const { ok, errors } = validateRequest(message);
  assert.ok(ok, `not a valid request: ${JSON.stringify(message)}\n${JSON.stringify(errors, null, 1)}`);
}

/** A chrome.events-like object. */
export function fakeEvent() {
  const listeners = [];
  return {
    listeners,
    addListener: (fn) => listeners.push(fn),
    removeListener: (fn) => {
      const i = listeners.indexOf(fn);
      if (i >= 0) listeners.splice(i, 1);
    },
    fire: (...args) => listeners.map((fn) => fn(...args)),
  };
}

/** Let pending promise callbacks run. */
export async function settle(rounds = 20) {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}
