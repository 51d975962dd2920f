"""The whole story in a real browser: ./scripts/demo [--browser chromium|firefox] [--headed] …

Builds the extension, starts the local Flattr server (flattr.com + api.flattr.com over TLS) and the
local content sites, installs flattr-host into a throwaway browser profile, and runs headless
Chromium (Firefox when Chromium is absent) with the extension: sign in through flattr.com, read a
page with real mouse and keyboard input until it earns flattrs, watch the API fail twice and the
host retry, and see the flattrs arrive. Each step prints its result; popup screenshots are saved
in the folder it names. Exits 0 only when the server received every flattr exactly once.

With --frames (or when no browser is installed) it drives flattr-host directly through
native-messaging frames instead, as a browser would.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "scripts"))

import demo_frames  # noqa: E402
from demo_frames import show, step, watch_server  # noqa: E402

CHROMIUM = Path("/usr/lib/chromium/chromium")
# Figures of this demo (named settings of the host, shortened so that it runs in about a minute).
DEMO_SETTINGS = {
    "thresholds": [5, 12, 60],
    "submit_delay": 0.5,
    "backoff_base": 1.0,
    "backoff_factor": 2.0,
    "backoff_max": 4.0,
}
READ_SECONDS = 14.0  # past both thresholds, with input every fraction of a second
FAULTS = [{"status": 503}, {"status": 503, "retry_after": 1}]
DELIVERY_TIMEOUT = 60.0
HEADED_ENV = "FLATTR_E2E_HEADED"  # tests/e2e/run.py HEADED_VAR


def pick_browser(wanted: str) -> str | None:
    have = {"chromium": CHROMIUM.exists(), "firefox": shutil.which("firefox-esr") is not None}
    if wanted != "auto":
        return wanted if have[wanted] else None
    return next((name for name, ok in have.items() if ok), None)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--browser", choices=["auto", "chromium", "firefox"], default="auto")
    parser.add_argument("--headed", action="store_true", help="show the browser (needs a desktop)")
    parser.add_argument("--out", type=Path, help="folder for the screenshots")
    parser.add_argument("--frames", action="store_true", help="no browser: frames to the host")
    parser.add_argument("--keep", action="store_true", help="(--frames) keep the host's folder")
    parser.add_argument("--plain-http", action="store_true", help="(--frames) no TLS")
    args = parser.parse_args()
    if args.frames:
        return demo_frames.main(args)
    browser = pick_browser(args.browser)
    if browser is None:
        print(
            f"No {'browser' if args.browser == 'auto' else args.browser} installed here: "
            "install one with `sudo apt-get install chromium firefox-esr`.\n"
            "Meanwhile, the same story without a browser (flattr-host spoken to in frames):",
            flush=True,
        )
        return demo_frames.main(args)
    if args.headed:
        os.environ[HEADED_ENV] = "1"
    out = args.out or Path(tempfile.mkdtemp(prefix="flattr-demo-screenshots-"))
    out.mkdir(parents=True, exist_ok=True)
    return browser_demo(browser, out)


def browser_demo(browser: str, out: Path) -> int:
    from e2e import extbuild, sites
    from e2e.companion import Companion, read
    from e2e.rig import Rig

    step("Build the extension (scripts/build-extension)")
    build_dir = Path(tempfile.mkdtemp(prefix="flattr-demo-build-"))
    built = extbuild.build(build_dir)
    show("unpacked", built[browser])

    step(f"Start the local Flattr server, the content sites and {browser} with the extension")
    started = time.monotonic()
    rig = Rig(browser, "demo", lambda _: built[browser], settings=DEMO_SETTINGS)
    ok = False
    try:
        show("flattr.com and api.flattr.com", f"{rig.sim.base if rig.sim else '?'} (TLS)")
        show("host manifest", rig.manifest)
        show("browser up in", f"{time.monotonic() - started:.1f} s")
        companion = Companion(rig)

        step("The browser starts flattr-host through its manifest; the extension says hello")
        state = companion.wait_host_ready()
        show("host", f"{state['host']['state']} (flattr-host {state['host'].get('hostVersion')})")
        popup = companion.open_popup()
        show("popup (signed out)", companion.screenshot_popup_to(popup, out / "1-signed-out.png"))
        popup.close()

        step("Sign in: the popup's button opens https://flattr.com/oauth/ext, the page hands over")
        companion.sign_in()
        account = companion.state()["account"]
        show("account", f"signed in as {account['username']}, the sign-in tab closed by itself")

        step("The API will answer 503 twice (the second with Retry-After: 1)")
        rig.control.set_faults(script=FAULTS)

        url = f"http://{sites.BLOG}/posts/attention-is-all"
        step(f"Read {url} with real mouse, wheel and keyboard input for {READ_SECONDS:.0f} s")
        page = rig.b.new_tab(url)
        read(page, READ_SECONDS)
        status = companion.state(url)["page"]
        show(
            "this page today",
            f"{status['seconds_today']:.0f} s of attention, {status['flattrs_today_url']} "
            f"flattr(s), next at {status['next_threshold']:.0f} s",
        )
        popup = companion.open_popup()
        show("popup (reading)", companion.screenshot_popup_to(popup, out / "2-reading.png"))
        popup.close()

        step("The host submits, retries the 503s with back-off under one Idempotency-Key")
        expected = status["flattrs_today_url"]
        watch_server(rig.control, lambda: len(rig.control.flattrs()) >= expected, DELIVERY_TIMEOUT)

        step("Result")
        arrived = Counter(f["url"] for f in rig.control.flattrs())
        for flattred, count in arrived.items():
            show("flattrs recorded by the server", f"{count} × {flattred}")
        page.activate()  # the popup describes the selected tab
        popup = companion.open_popup()
        show("popup (delivered)", companion.screenshot_popup_to(popup, out / "3-delivered.png"))
        popup.close()
        ok = expected > 0 and arrived == Counter({url: expected})
    finally:
        rig.close(check=False)
        shutil.rmtree(build_dir, ignore_errors=True)
    print(f"\nScreenshots of the popup: {out}")
    print("\nDEMO OK: every flattr arrived exactly once" if ok else "\nDEMO FAILED", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
