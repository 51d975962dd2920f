"""``flattr-host <command>``: the host for people at a terminal."""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from . import __version__, accounts, api_cli, export, paths, sites, status, store
from .dashboard.launch import LIBRARIES_HINT
from .dashboard.launch import PAGES as DASHBOARD_PAGES
from .flattrs import made
from .logs import redact
from .settings import FLATTR_SCOPES, Settings, SettingsError, load_settings

PROG = "flattr-host"
ADOPT_COMMAND = f"{PROG} queue --adopt"
UNSENT = ("pending", "failed", "in_flight")
# What to do about a hold that only the user can lift (status.queue_state's ``hold``).
REFUSED_ADVICE = (
    "Flattr refused the request and it is not retried by itself; fix the cause "
    f"(last error), then run: {PROG} flush (or sign in again from the extension's popup)"
)
INSTALL_COMMANDS = ("install", "uninstall", "doctor")


def main(argv: list[str]) -> int:
    if argv[:1] == ["sim"]:  # its own options, --help included, belong to the server
        from flattr_sim import main as sim_main  # a test tool of its own, loaded only here

        return sim_main(argv[1:])
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "schema":
        return _schema(args)
    home = paths.data_home()
    try:
        settings = load_settings(home)
    except SettingsError as exc:
        if args.command != "doctor":  # doctor reports it among everything else it checks
            return _fail(str(exc))
        settings = Settings()
    if args.command in INSTALL_COMMANDS:  # they never open the database
        from .install import commands

        return commands.run(args.command, args, settings)
    try:
        conn = store.connect(paths.database_path(home), settings)
    except (sqlite3.Error, store.StoreError, OSError) as exc:
        return _fail(f"cannot open {paths.database_path(home)}: {exc}")
    try:
        accounts.redact_stored_tokens(conn)  # error texts shown below never carry a token
        handler = globals()[f"_cmd_{args.command.replace('-', '_')}"]
        return int(handler(conn, settings, args))
    except KeyboardInterrupt:
        return 130
    finally:
        conn.close()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Flattr Companion's host. Browsers start it through native messaging; "
        "these commands are for you.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("status", help="account, subscription and queue at a glance")
    q = sub.add_parser("queue", help="flattrs not yet delivered")
    q.add_argument("--all", action="store_true", help="also list delivered flattrs")
    q.add_argument(
        "--adopt",
        action="store_true",
        help="move the flattrs that wait for another account to the signed-in one",
    )
    q.add_argument("--dry-run", action="store_true", help="with --adopt: show, move nothing")
    sub.add_parser("flush", help="send every queued flattr now, failed ones included")
    st = sub.add_parser("stats", help="the dashboard's History figures, as text or JSON")
    st.add_argument("--json", action="store_true", help="the figures as JSON")
    h = sub.add_parser("history", help="the latest flattrs")
    h.add_argument("-n", "--limit", type=int, default=20)
    s = sub.add_parser("sites", help="list sites, or change one site or the mode")
    s.add_argument("action", nargs="?", choices=["enable", "disable", "default"])
    s.add_argument("site", nargs="?")
    s.add_argument("--mode", choices=["all", "enabled", "metadata"])
    lg = sub.add_parser("login", help="sign in to Flattr in your browser (no extension needed)")
    lg.add_argument(
        "--no-browser",
        action="store_true",
        help="print the address to open (first line of stdout) instead of opening a browser",
    )
    lg.add_argument(
        "--scope",
        action="append",
        choices=FLATTR_SCOPES,
        help="a scope to ask for; repeatable (default: the login_scopes setting, flattr)",
    )
    lg.add_argument("--timeout", type=float, help="seconds to wait for the browser (default 300)")
    api_cli.add_parser(sub)
    v = sub.add_parser(
        "visits", help="daily visit flattrs: whether they are on, and the sites with visits kept"
    )
    v.add_argument("switch", nargs="?", choices=["on", "off"], help="turn them on or off")
    sub.add_parser("sign-out", help="forget the token; queued flattrs wait for the same account")
    e = sub.add_parser("export", help="your data as JSON (never the token)")
    e.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    i = sub.add_parser("install", help="register the host with your browsers")
    i.add_argument(
        "--browser",
        action="append",
        metavar="NAME",
        help="auto (default: the browsers found here), all, chrome, chrome-beta, chrome-dev, "
        "chromium, edge, edge-beta, edge-dev, brave, vivaldi, firefox, or NAME-flatpak; repeatable",
    )
    i.add_argument("--system", action="store_true", help="for all users (needs admin rights)")
    i.add_argument("--dry-run", action="store_true", help="print every file and key; write none")
    i.add_argument(
        "--force",
        action="store_true",
        help="with --system: install even when users other than root or an administrator can "
        "change the Python it pins (a loud warning, not recommended)",
    )
    u = sub.add_parser("uninstall", help="remove everything `install` wrote")
    u.add_argument("--system", action="store_true", help="the all-users install")
    u.add_argument("--dry-run", action="store_true", help="print what would go; remove nothing")
    u.add_argument(
        "--purge",
        action="store_true",
        help="also delete your data folder (flattrs, queue, token, settings, logs); asks first",
    )
    u.add_argument("--yes", action="store_true", help="confirm --purge without asking (scripts)")
    d = sub.add_parser("doctor", help="check every browser's registration and start the host")
    d.add_argument("--browser", action="append", metavar="NAME", help="only these (see install)")
    d.add_argument("--timeout", type=float, help="seconds to wait for hello (default 10)")
    db = sub.add_parser("dashboard", help="open the desktop dashboard (needs the gui extra)")
    db.add_argument("--page", choices=DASHBOARD_PAGES, help="the page to show first")
    db.add_argument(
        "--screenshot", type=Path, metavar="FILE", help="render offscreen, write a PNG, exit"
    )
    sub.add_parser("sim", help="run the local Flattr server (`flattr-host sim --help`)")
    sc = sub.add_parser("schema", help="write the protocol's JSON Schema")
    sc.add_argument("-o", "--output", type=Path)
    sc.add_argument("--check", type=Path, help="exit 1 when this file is not up to date")
    return parser


def _fail(message: str) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return 1


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


# --- commands --------------------------------------------------------------------------------


def _cmd_status(conn: sqlite3.Connection, settings: Settings, args: Any) -> int:
    s = status.status_result(conn, time.time(), settings)
    a, q = s.account, s.queue
    if a.signed_in:
        who = f"signed in as {a.username}" if a.username else "signed in (account not yet verified)"
    elif a.signed_out_reason == "token_rejected":
        who = "signed out: Flattr rejected the token. Sign in again from the extension's popup"
    else:
        who = "signed out. Sign in from the extension's popup"
    sub = {True: "active", False: "inactive (fix it at https://flattr.com)", None: "unknown"}
    print(f"account        {who}")
    print(f"subscription   {sub[a.subscription_active]}")
    print(f"mode           {s.mode}")
    print(f"flattrs today  {s.flattrs_today}")
    print(f"visit flattrs  {'on' if s.visit_flattrs else 'off'}")
    print(
        f"queue          {q.pending} pending, {q.in_flight} in flight, {q.failed} failed, "
        f"{q.rejected} rejected, {q.delivered} delivered"
    )
    if q.waiting_other_account:
        print(f"               {q.waiting_other_account} wait for another account to sign in")
        if a.signed_in:
            print(f"               to send them with this account instead: {ADOPT_COMMAND}")
    if q.hold:
        print(f"waiting        {q.hold}")
    if q.hold == "refused":
        print(f"               {REFUSED_ADVICE}")
    if q.next_retry_at:
        print(f"next retry     {_when(q.next_retry_at)}")
    if q.last_error:
        print(f"last error     {q.last_error} ({_when(q.last_error_at)})")
    if q.last_delivery_at:
        print(f"last delivery  {_when(q.last_delivery_at)}")
    print(f"database       {paths.database_path(paths.data_home())}")
    print(f"log            {paths.log_dir()}")
    if q.failed or q.pending:
        print(f"\nTo send now: {PROG} flush")
    return 0


def _cmd_queue(conn: sqlite3.Connection, settings: Settings, args: Any) -> int:
    if args.dry_run and not args.adopt:
        return _fail(f"--dry-run goes with --adopt: {ADOPT_COMMAND} --dry-run")
    if args.adopt:
        return _adopt(conn, dry_run=args.dry_run)
    rows = made.listing(conn, delivered=args.all)
    if not rows:
        print("nothing queued")
        return 0
    account = accounts.current(conn)
    mine = None if account is None else account.id
    owners: dict[int | None, str] = {}
    waiting: dict[str, int] = {}
    for r in rows:
        line = (
            f"{r['id']:>6}  {r['state']:<9}  {r['reason']:<9}  {_when(r['created_at'])}  {r['url']}"
        )
        if r["state"] in UNSENT and r["account_id"] != mine:
            if r["account_id"] not in owners:
                owners[r["account_id"]] = _owner(conn, r["account_id"])
            owner = owners[r["account_id"]]
            waiting[owner] = waiting.get(owner, 0) + 1
            line += f"  [waits for {owner}]"
        print(line + (f"\n        {redact(r['error'])}" if r["error"] else ""))
    if waiting:
        counts = ", ".join(f"{n} for {owner}" for owner, n in waiting.items())
        whose = "another account" if account is not None else "their account"
        print(f"\n{sum(waiting.values())} wait for {whose} to sign in ({counts}).")
        if account is not None and account.signed_in:
            print(f"To send them as {_owner(conn, account.id)} instead: {ADOPT_COMMAND}")
            print(f"To see first what would move: {ADOPT_COMMAND} --dry-run")
    return 0


def _owner(conn: sqlite3.Connection, account_id: int | None) -> str:
    account = None if account_id is None else accounts.get(conn, account_id)
    if account is None:
        return "no account"
    return account.username or f"an unverified account (#{account.id})"


def _adopt(conn: sqlite3.Connection, *, dry_run: bool) -> int:
    """``queue --adopt``: one transaction moves all that can go to the signed-in account."""
    account = accounts.current(conn)
    if account is None or not account.signed_in:
        return _fail(f"not signed in: sign in from the extension's popup, then: {ADOPT_COMMAND}")
    with store.transaction(conn):
        adoptions = accounts.adopt_waiting(conn, account.id, time.time(), dry_run=dry_run)
    me = _owner(conn, account.id)
    verb = "would move" if dry_run else "moved"
    for a in adoptions:
        owner = "no account" if a.source is None else _owner(conn, a.source.id)
        if a.rebound.moved:
            print(f"{verb} {a.rebound.moved} flattrs of {owner} to {me}")
        if a.rebound.uncertain:
            print(
                f"left {a.rebound.uncertain} of {owner}: a request with them may already be "
                f"recorded as {owner} (network or server error), so sending them as {me} could "
                f"flattr them twice; they go when {owner} signs in again"
            )
        if a.rebound.in_flight:
            print(
                f"left {a.rebound.in_flight} of {owner}: being sent right now; "
                f"run {ADOPT_COMMAND} again once they are settled"
            )
    moved = sum(a.rebound.moved for a in adoptions)
    if not adoptions:
        print("no flattrs wait for another account")
    elif dry_run:
        print(f"nothing changed; to move them: {ADOPT_COMMAND}")
    elif moved:
        print(f"they go with the next submission; to send them now: {PROG} flush")
    return 0


def _cmd_flush(conn: sqlite3.Connection, settings: Settings, args: Any) -> int:
    from .submitter import Submitter

    account = accounts.current(conn)
    if account is None or not account.signed_in:
        return _fail("not signed in: sign in from the extension's popup, then run this again")
    submitter = Submitter(conn, settings, on_event=None)
    show = _Progress()
    try:
        report = submitter.flush(progress=show)
    finally:
        show.done()
        submitter.close()
    print(status.describe_report(report))
    q = status.queue_state(conn, time.time(), settings)
    if q.pending or q.failed:
        print(f"{q.pending + q.failed} still queued; {q.hold or 'will retry'}", file=sys.stderr)
        if q.hold == "refused":
            print(f"{q.last_error}\n{REFUSED_ADVICE}", file=sys.stderr)
        return 1
    return 0


class _Progress:
    """A one-line progress bar on a terminal, plain lines otherwise."""

    WIDTH = 30

    def __init__(self) -> None:
        self._tty = sys.stderr.isatty()
        self._last = -1

    def __call__(self, done: int, total: int) -> None:
        if total <= 0 or done == self._last:
            return
        self._last = done
        if self._tty:
            filled = self.WIDTH * done // total
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            print(f"\rsending [{bar}] {done}/{total}", end="", file=sys.stderr, flush=True)
        else:
            print(f"sent {done}/{total}", file=sys.stderr)

    def done(self) -> None:
        if self._tty and self._last >= 0:
            print(file=sys.stderr)


def _cmd_history(conn: sqlite3.Connection, settings: Settings, args: Any) -> int:
    page = status.history_result(conn, None, max(1, min(args.limit, 200)))
    if not page.items:
        print("no flattrs yet")
    for item in page.items:
        print(f"{_when(item.created_at)}  {item.state:<9}  {item.reason:<9}  {item.url}")
    return 0


def _cmd_stats(conn: sqlite3.Connection, settings: Settings, args: Any) -> int:
    from . import figures

    data = figures.history(conn, time.time(), settings)
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return 0
    print("flattrs per day (last 30 days)")
    for point in data["per_day"]:
        print(f"  {point['day']}  {point['count']:>4}  {'#' * min(point['count'], 60)}")
    print("top sites this month")
    for site in data["top_sites"] or [{"site": "none yet", "count": 0}]:
        print(f"  {site['count']:>5}  {site['site']}")
    creators = data["top_creators"]
    print("top creators this month")
    for creator in creators["creators"]:
        print(f"  {creator['count']:>5}  {creator['creator']}")
    if creators["unknown"]:
        print(f"  {creators['unknown']:>5}  creator not known (yet): see {PROG} dashboard")
    print("today's attention")
    for page in data["attention_today"]:
        left = "no more today"
        if page["next_threshold"] is not None:
            left = f"{page['next_threshold'] - page['seconds']:.0f} s to the next flattr"
        print(f"  {page['seconds']:>6.0f} s  {page['flattrs']} flattrs  {left}  {page['url']}")
    return 0


def _cmd_sites(conn: sqlite3.Connection, settings: Settings, args: Any) -> int:
    from . import urls

    now = time.time()
    if args.mode or args.action:
        with store.transaction(conn):
            if args.mode:
                sites.set_mode(conn, args.mode)
            if args.action:
                if not args.site:
                    return _fail(f"name the site: {PROG} sites {args.action} example.com")
                site = urls.site_of(args.site)
                if site is None:
                    return _fail(f"{args.site!r} is not a public site name")
                setting = {"enable": "enabled", "disable": "disabled", "default": None}
                sites.set_site(conn, site, setting[args.action], now)
    result = status.sites_result(conn, now, settings)
    print(f"mode: {result.mode}")
    for entry in result.sites:
        note = f" (built-in: {entry.builtin})" if entry.builtin else ""
        print(
            f"  {entry.site:<32} {entry.setting:<9} today {entry.flattrs_today:>3}  "
            f"total {entry.flattrs_total:>5}{note}"
        )
    if not result.sites:
        print("  no site settings yet")
    return 0


def _cmd_login(conn: sqlite3.Connection, settings: Settings, args: Any) -> int:
    from .login import LoginFailed, run_login

    scopes = tuple(dict.fromkeys(args.scope or settings.login_scopes))
    try:
        username = run_login(
            conn,
            settings,
            scopes=scopes,
            open_browser=not args.no_browser,
            timeout=args.timeout or settings.login_timeout,
        )
    except LoginFailed as exc:
        return _fail(str(exc))
    print(f"Signed in to Flattr as {username}.")
    return 0


def _cmd_api(conn: sqlite3.Connection, settings: Settings, args: Any) -> int:
    return api_cli.run(conn, settings, args)


def _cmd_visits(conn: sqlite3.Connection, settings: Settings, args: Any) -> int:
    from . import visits

    if args.switch:
        with store.transaction(conn):
            visits.set_enabled(conn, args.switch == "on")
    if not visits.enabled(conn, settings):
        print(f"daily visit flattrs: off (turn them on: {PROG} visits on)")
        return 0
    print(f"daily visit flattrs: on (turn them off, deleting the visits kept: {PROG} visits off)")
    kept = visits.pending_sites(conn)
    for site, count in kept:
        print(f"  {site:<32} {count:>3} visit(s) kept")
    if not kept:
        print("  no visits kept")
    return 0


def _cmd_dashboard(conn: sqlite3.Connection, settings: Settings, args: Any) -> int:
    from .dashboard import window
    from .dashboard.launch import GuiMissing

    conn.close()  # the window opens its own connections
    try:
        if args.screenshot:
            return window.screenshot(paths.data_home(), settings, args.screenshot, args.page)
        return window.run(paths.data_home(), settings, args.page)
    except GuiMissing as exc:
        return _fail(str(exc))
    except ImportError as exc:  # the toolkit is there but a system library it loads is not
        return _fail(f"the dashboard's toolkit cannot start: {exc}. {LIBRARIES_HINT}")


def _cmd_sign_out(conn: sqlite3.Connection, settings: Settings, args: Any) -> int:
    with store.transaction(conn):
        account = accounts.sign_out(conn, time.time())
    print("signed out" if account else "was not signed in")
    return 0


def _cmd_export(conn: sqlite3.Connection, settings: Settings, args: Any) -> int:
    text = export.document_text(conn)
    if args.output:
        try:
            export.write_private(args.output, text.encode("utf-8"))
        except OSError as exc:
            return _fail(f"cannot write {args.output}: {exc.strerror or exc}")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _schema(args: Any) -> int:
    from .protocol.schema import schema_text

    text = schema_text()
    if args.check:
        current = args.check.read_text(encoding="utf-8") if args.check.exists() else ""
        if current != text:
            return _fail(
                f"{args.check} is stale; regenerate it with: {PROG} schema -o {args.check}"
            )
        return 0
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0
