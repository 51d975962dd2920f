// Shared test helpers: a fake clock, fake timers, the protocol schema validator, fake browser API.
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

/** Validates an extension → host message against protocol.schema.json's `$defs/Request`. */
export function validateRequest(message) {
  if (!validator) {
    const schema = JSON.parse(readFileSync(join(REPO, "protocol.schema.json"), "utf8"));
    // strict: false — the generated schema carries pydantic's `discriminator` and top-level notes.
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    ajv.addSchema(schema);
    validator = ajv.compile({ $ref: `${schema.$id}#/$defs/Request` });
  }
  const ok = validator(message);
  return { ok, errors: ok ? [] : validator.errors };
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
