// The real timers, wrapped: calling the global setTimeout as a method of another object throws
// "Illegal invocation" in browsers. Modules take `timers` as an option so tests can fake time.
export const realTimers = Object.freeze({
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (id) => globalThis.clearTimeout(id),
});
