"""End to end in real Chromium and Firefox (issue 5): the built extension, the real flattr-host
started by the browser through its installed manifest, and the local Flattr server standing in for
flattr.com / api.flattr.com over TLS.

Run: `.venv/bin/pytest tests/e2e` (or `-m e2e`; `-m "not e2e"` skips them). Popup screenshots,
timings and, after a failure, the run's logs land under artifacts/e2e/.
"""
