"""The ``install``, ``uninstall`` and ``doctor`` commands: what the CLI runs and prints."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import paths
from ..settings import Settings
from . import doctor, installer, launcher, probe, trust
from . import purge as purge_data
from .platform import SYSTEM, USER, WINDOWS, Platform
from .report import command


def run(name: str, args: Any, settings: Settings, platform: Platform | None = None) -> int:
    platform = platform or Platform.current(paths.data_home())
    if name == "install":
        return install(
            platform, settings, args.browser or [], args.system, args.dry_run, force=args.force
        )
    if name == "uninstall":
        return uninstall(platform, args.system, args.dry_run, purge=args.purge, yes=args.yes)
    return run_doctor(platform, settings, args.browser, args.timeout or probe.TIMEOUT)


def install(
    platform: Platform,
    settings: Settings,
    names: list[str],
    system: bool,
    dry_run: bool,
    source_probe: bool = True,
    *,
    force: bool = False,
    owners: trust.Owners | None = None,
) -> int:
    scope = SYSTEM if system else USER
    targets, problems = installer.resolve(names, platform, scope)
    for problem in problems:
        print(f"flattr-host: {problem}", file=sys.stderr)
    if problems:
        return 2
    if not targets:
        print(
            "No browser found here. Name yours, e.g.: "
            + command(platform, "install", "--browser", "chrome")
            + "\n(browsers: chrome, chrome-beta, chrome-dev, chromium, edge, brave, vivaldi, "
            "firefox, or their -flatpak builds)",
            file=sys.stderr,
        )
        return 1
    # The launcher runs `python -I` on flattr_host.__main__ when that interpreter imports this very
    # package; otherwise it names the package's folder itself.
    source = None
    if source_probe and not launcher.imports_same_package(platform.executable):
        source = launcher.PACKAGE_DIR.parent
    if system and platform.os != WINDOWS:
        owners = owners or trust.Owners.current()
        paths = trust.runtime_paths(platform.executable, source, launcher.PACKAGE_DIR)
        unsafe = trust.problems(paths, owners)
        if unsafe and not _allow_untrusted(platform, unsafe, names, force):
            return 1
    try:
        plan = installer.plan(platform, settings, targets, scope, source=source)
    except ValueError as exc:  # a template missing or damaged: the package itself is broken
        print(f"flattr-host: {exc}", file=sys.stderr)
        return 1
    print(f"Installing flattr-host for {', '.join(t.name for t in targets)} ({scope}):")
    if dry_run:
        for line in installer.describe(plan, platform):
            print(f"  {line}")
        print("Nothing written (--dry-run).")
    else:
        try:
            installer.apply(plan, platform, lambda line: print(f"  {line}"))
        except PermissionError as exc:
            again = ["install", *(["--system"] if system else [])]
            for name in names:
                again += ["--browser", name]
            print(f"flattr-host: permission denied: {exc.filename or exc}", file=sys.stderr)
            print(f"Run: {command(platform, *again, scope=SYSTEM)}", file=sys.stderr)
            return 1
        except OSError as exc:
            print(f"flattr-host: install failed: {exc}", file=sys.stderr)
            return 1
    for note in plan.notes:
        print(f"  {note.line()}")
    if not dry_run:
        print(f"Check it with: {command(platform, 'doctor')}")
    return 0


def _allow_untrusted(
    platform: Platform, unsafe: list[trust.Problem], names: list[str], force: bool
) -> bool:
    """Say loudly what others could change; go on only with --force."""
    print(
        "flattr-host: WARNING: " if force else "flattr-host: refusing to install for every user: ",
        "someone other than root or an administrator can change the Python it would run, and "
        "through it run code as every user whose browser starts the host:",
        sep="",
        file=sys.stderr,
    )
    for problem in unsafe:
        print(f"  {problem.line()}", file=sys.stderr)
    if force:
        print("flattr-host: WARNING: installing anyway (--force).", file=sys.stderr)
        return True
    again = ["install", "--system", *[a for n in names for a in ("--browser", n)], "--force"]
    print(
        "Fix those, or install from an environment only root can change:\n"
        f"  {trust.shared_venv_commands()}\n"
        f"To install anyway (not recommended): {command(platform, *again, scope=SYSTEM)}",
        file=sys.stderr,
    )
    return False


def uninstall(
    platform: Platform,
    system: bool,
    dry_run: bool,
    *,
    purge: bool = False,
    yes: bool = False,
    ask: Callable[[str], str] = input,
    interactive: Callable[[], bool] = lambda: sys.stdin is not None and sys.stdin.isatty(),
) -> int:
    """``uninstall`` (``--purge``: then the data and log folders, once confirmed)."""
    scope = SYSTEM if system else USER
    doomed: dict[Path, str] = {}
    if purge:
        if system:
            print(
                "flattr-host: --purge deletes your own data, not the all-users install: run "
                f"{command(platform, 'uninstall', '--system', scope=SYSTEM)}, then "
                f"{command(platform, 'uninstall', '--purge')} as yourself",
                file=sys.stderr,
            )
            return 2
        try:
            found = purge_data.folders(platform)
            doomed = {f: w for f, w in found.items() if f.exists() or f.is_symlink()}
        except purge_data.PurgeRefused as exc:
            print(f"flattr-host: {exc}", file=sys.stderr)
            return 2
        if doomed and not dry_run and not yes:
            refused = _confirm(platform, doomed, ask, interactive)
            if refused:
                return refused

    def say(line: str) -> None:
        print(f"  {line}")

    try:
        status = installer.uninstall(platform, scope, dry_run=dry_run, say=say, purging=purge)
    except PermissionError as exc:
        again = ["uninstall", *(["--system"] if system else [])]
        print(f"flattr-host: permission denied: {exc.filename or exc}", file=sys.stderr)
        print(f"Run: {command(platform, *again, scope=SYSTEM)}", file=sys.stderr)
        return 1
    if not purge:
        return status
    if status != 0:
        kept = " and ".join(str(f) for f in doomed)
        print(f"flattr-host: {kept} kept: uninstalling failed (see above)", file=sys.stderr)
        return status
    return purge_data.remove(doomed, dry_run=dry_run, say=say)


def _confirm(
    platform: Platform,
    doomed: dict[Path, str],
    ask: Callable[[str], str],
    interactive: Callable[[], bool],
) -> int:
    """0 once confirmed at a terminal; 1 when declined; 2 when no terminal can ask (only --yes
    confirms then)."""
    listing = " and ".join(f"{f} ({what})" for f, what in doomed.items())
    if not interactive():
        again = command(platform, "uninstall", "--purge", "--yes")
        print(
            f"flattr-host: --purge deletes {listing}; nothing removed. "
            f"Not at a terminal, so confirm with: {again}",
            file=sys.stderr,
        )
        return 2
    print(f"This deletes {listing}. It cannot be undone.")
    print(f"Flattrs not yet sent are lost (list them with: {command(platform, 'queue')}).")
    try:
        answer = ask("Delete them? [y/N] ")
    except EOFError:
        answer = ""
    if answer.strip().lower() in ("y", "yes"):
        return 0
    print("Nothing removed.")
    return 1


def run_doctor(
    platform: Platform, settings: Settings, names: list[str] | None, timeout: float
) -> int:
    from .. import __version__

    print(f"flattr-host {__version__} doctor (Python {platform.executable})")
    sections = doctor.run(platform, settings, names=names, timeout=timeout)
    for line in doctor.render(sections):
        print(line)
    return doctor.exit_status(sections)
