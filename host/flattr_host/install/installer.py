"""Install and uninstall: a plan of every file and registry value, then its execution.

``plan`` decides without touching anything (``--dry-run`` prints it); ``apply`` writes it and keeps
the receipt; ``uninstall`` removes what a receipt lists, and nothing else.
"""

from __future__ import annotations

import os
import shlex
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .. import paths
from ..settings import Settings
from . import browsers as b
from . import fsutil, launcher, manifest, policy, receipt, sandbox
from .platform import SYSTEM, USER, WINDOWS, Platform
from .registry import Registry, parents
from .report import WARN, Finding, command, install_command

Say = Callable[[str], None]


@dataclass(frozen=True)
class FileWrite:
    path: Path
    data: bytes
    mode: int
    entry: receipt.FileEntry
    label: str


@dataclass(frozen=True)
class RegistryWrite:
    entry: receipt.RegistryEntry
    label: str


@dataclass
class Plan:
    scope: str
    data_dir: Path
    launcher: Path
    interpreter: Path
    files: list[FileWrite] = field(default_factory=list)
    registry: list[RegistryWrite] = field(default_factory=list)
    notes: list[Finding] = field(default_factory=list)

    @property
    def receipt_path(self) -> Path:
        return receipt.path_in(self.data_dir)


def resolve(names: list[str], platform: Platform, scope: str) -> tuple[list[b.Browser], list[str]]:
    """The browsers named (``auto``: those found here; ``all``: every one this OS has). Returns
    them and the problems (unknown names, browsers that cannot be installed in this scope)."""
    chosen: list[b.Browser] = []
    problems: list[str] = []
    for name in names or ["auto"]:
        for part in [p.strip().lower() for p in name.split(",") if p.strip()]:
            if part == "auto":
                found = [x for x in b.detect(platform) if x.supports(platform.os, scope)]
                chosen += found
            elif part == "all":
                chosen += [x for x in b.BROWSERS if x.supports(platform.os, scope)]
            elif part not in b.BY_KEY:
                problems.append(
                    f"unknown browser {part!r}; known: auto, all, {', '.join(b.BY_KEY)}"
                )
            elif not b.BY_KEY[part].supports(platform.os, scope):
                where = "per user only" if b.BY_KEY[part].flatpak else "not on this system"
                problems.append(
                    f"{b.BY_KEY[part].name}: cannot be installed {scope}-wide ({where})"
                )
            else:
                chosen.append(b.BY_KEY[part])
    return list(dict.fromkeys(chosen)), problems


def plan(
    platform: Platform,
    settings: Settings,
    targets: list[b.Browser],
    scope: str,
    *,
    source: Path | None,
) -> Plan:
    """Everything to write for ``targets``. ``source``: see ``launcher.render``."""
    data_dir = platform.data_dir(scope)
    launcher_file = launcher.launcher_path(platform, data_dir)
    # A portable or test install (FLATTR_HOST_HOME) keeps its data folder when a browser starts it.
    pinned_home = (
        platform.data_home if scope == USER and platform.env.get(launcher.HOME_VAR) else None
    )
    text = launcher.render(platform, platform.executable, source=source, home=pinned_home)
    result = Plan(scope, data_dir, launcher_file, platform.executable)
    result.files.append(
        FileWrite(
            launcher_file,
            text.encode("utf-8"),
            fsutil.EXEC_MODE,
            receipt.FileEntry(str(launcher_file), receipt.LAUNCHER),
            f"launcher: pins {platform.executable}",
        )
    )
    manifests: dict[Path, receipt.FileEntry] = {}
    registry: dict[tuple[str, str], receipt.RegistryEntry] = {}
    for browser in targets:
        target = launcher_file
        if browser.flatpak:
            target = b.flatpak_wrapper_dir(platform, browser) / launcher.FLATPAK_NAME
            wrapper = launcher.render_flatpak_wrapper(launcher_file, browser.flatpak)
            result.files.append(
                FileWrite(
                    target,
                    wrapper.encode("utf-8"),
                    fsutil.EXEC_MODE,
                    receipt.FileEntry(
                        str(target), receipt.WRAPPER, [browser.key], None, str(launcher_file)
                    ),
                    f"starts the launcher outside {browser.name}'s sandbox",
                )
            )
        for loc in b.locations(browser, platform, scope):
            entry = manifests.setdefault(
                loc.manifest,
                receipt.FileEntry(
                    str(loc.manifest), receipt.MANIFEST, [], browser.family, str(target)
                ),
            )
            entry.browsers.append(browser.key)
            if loc.hive and loc.key:
                reg = registry.setdefault(
                    (loc.hive, loc.key.lower()),
                    receipt.RegistryEntry(loc.hive, loc.key, str(loc.manifest), []),
                )
                reg.browsers.append(browser.key)
        result.notes += notes_for(browser, platform, scope)
    if scope == SYSTEM:
        result.notes += _shared_interpreter(platform)
    for path, entry in manifests.items():
        assert entry.family is not None and entry.target is not None
        data = manifest.render(manifest.build(entry.family, entry.target, settings))
        result.files.append(FileWrite(path, data, fsutil.FILE_MODE, entry, _label(entry.browsers)))
    for reg in registry.values():
        result.registry.append(RegistryWrite(reg, _label(reg.browsers)))
    return result


def notes_for(browser: b.Browser, platform: Platform, scope: str) -> list[Finding]:
    """What the user must know about ``browser`` here: Snap, Flatpak permission, policy."""
    found: list[Finding] = []
    snap = sandbox.snap_finding(browser, platform)
    if snap is not None:
        found.append(snap)
    if browser.flatpak and not sandbox.flatpak_can_spawn(platform, browser.flatpak):
        found.append(
            Finding(
                WARN,
                f"{browser.name} may not start programs outside its sandbox yet",
                sandbox.override_command(browser.flatpak),
            )
        )
    verdict = policy.verdict(policy.read(browser, platform))
    if scope == USER and verdict.user_hosts_disabled:
        found.append(
            Finding(
                WARN,
                f"{browser.name}: policy in {verdict.user_hosts_disabled} disables per-user hosts",
                install_command(platform, browser.key, SYSTEM),
            )
        )
    if verdict.blocked_by:
        found.append(
            Finding(
                WARN,
                f"{browser.name}: policy in {verdict.blocked_by} blocks native-messaging hosts",
                f"ask your administrator to add {manifest.HOST_NAME} to {policy.ALLOWLIST}",
            )
        )
    return found


def _shared_interpreter(platform: Platform) -> list[Finding]:
    """A system install is for every user: they must be able to reach its Python."""
    if platform.os == WINDOWS:
        return []
    for folder in platform.executable.parents:
        try:
            if not folder.stat().st_mode & stat.S_IXOTH:
                return [
                    Finding(
                        WARN,
                        f"{platform.executable} is inside {folder}, which other users cannot "
                        "enter: their browsers cannot start the host",
                        "install flattr-companion in a shared environment (for example "
                        "/opt/flattr-companion) and run `install --system` from there",
                    )
                ]
        except OSError:
            continue
    return []


def _label(keys: list[str]) -> str:
    return "for " + ", ".join(b.BY_KEY[k].name for k in dict.fromkeys(keys))


def describe(p: Plan, platform: Platform) -> list[str]:
    """Every file and registry value the plan writes, one per line."""
    lines = [f"would write  {w.path}  ({w.label})" for w in p.files]
    lines += [
        f"would set    {w.entry.hive}\\{w.entry.key} = {w.entry.value}  ({w.label})"
        for w in p.registry
    ]
    lines.append(f"would write  {p.receipt_path}  (receipt, for uninstall)")
    return lines


def apply(p: Plan, platform: Platform, say: Say) -> receipt.Receipt:
    """Write the plan: launcher first (a manifest never points at nothing), then wrappers,
    manifests, registry values. The receipt is saved even when a write fails half-way."""
    try:
        previous = receipt.load(p.receipt_path)
    except ValueError:
        previous = None  # an unreadable receipt is replaced; doctor finds any leftovers
    record = previous or receipt.Receipt(p.scope)
    record.launcher, record.interpreter = str(p.launcher), str(p.interpreter)
    dir_mode = fsutil.DIR_MODE if p.scope == SYSTEM else None
    wrote = False
    try:
        if p.scope == USER:  # also the host's data folder: private, as the host makes it
            record.add_dirs(fsutil.make_dirs(p.data_dir, paths.PRIVATE_DIR))
        for w in p.files:
            record.add_dirs(fsutil.make_dirs(w.path.parent, dir_mode))
            fsutil.atomic_write(w.path, w.data, w.mode)
            record.add_file(w.entry)
            wrote = True
            say(f"wrote  {w.path}  ({w.label})")
        for r in p.registry:
            registry = _registry(platform)
            created = [k for k in parents(r.entry.key) if not registry.exists(r.entry.hive, k)]
            registry.set_default(r.entry.hive, r.entry.key, r.entry.value)
            record.registry_created += [[r.entry.hive, k] for k in created]
            record.add_registry(r.entry)
            wrote = True
            say(f"set    {r.entry.hive}\\{r.entry.key} = {r.entry.value}  ({r.label})")
    finally:
        if wrote:
            record.add_dirs(fsutil.make_dirs(p.data_dir, dir_mode))
            receipt.save(record, p.receipt_path)
            say(f"wrote  {p.receipt_path}  (receipt, for uninstall)")
    return record


def _registry(platform: Platform) -> Registry:
    if platform.registry is None:
        raise OSError("no registry on this platform")
    return platform.registry


def uninstall(
    platform: Platform, scope: str, *, dry_run: bool, say: Say, purging: bool = False
) -> int:
    """Remove what the receipt of ``scope`` lists. Returns the exit status. ``purging``: the data
    folder goes next (``uninstall --purge``), so it is not named as kept."""
    path = receipt.path_in(platform.data_dir(scope))
    try:
        record = receipt.load(path)
    except ValueError as exc:
        say(f"{exc}")
        say(f"Nothing removed. Delete it and find leftovers with: {command(platform, 'doctor')}")
        return 1
    if record is None:
        say(f"nothing to uninstall: no receipt at {path}")
        return _report_strays(platform, scope, say)
    verb = "would remove" if dry_run else "removed"
    for f in record.files:
        target = Path(f.path)
        if target.exists() or target.is_symlink():
            if not dry_run:
                target.unlink()
            say(f"{verb}  {target}")
    registry = platform.registry
    for r in record.registry:
        if registry is None:
            break
        current = registry.values(r.hive, r.key).get("")
        if current is None and not registry.exists(r.hive, r.key):
            continue
        if current != r.value:
            say(f"left   {r.hive}\\{r.key}: it now names {current!r}, not what we wrote")
            continue
        if not dry_run:
            registry.delete(r.hive, r.key)
        say(f"{verb}  {r.hive}\\{r.key}")
    if registry is not None and not dry_run:
        for hive, key in sorted(record.registry_created, key=lambda hk: -hk[1].count("\\")):
            if registry.exists(hive, key) and not registry.has_children(hive, key):
                registry.delete(hive, key)
    if dry_run:
        say(f"{verb}  {path}  (receipt)")
        say("nothing removed (--dry-run)")
        return 0
    path.unlink()
    say(f"{verb}  {path}  (receipt)")
    for folder in fsutil.remove_empty_dirs([Path(d) for d in record.dirs]):
        say(f"{verb}  {folder}{os.sep}")
    data = platform.data_dir(scope)
    if scope == USER and data.is_dir() and not purging:
        gone = command(platform, "uninstall", "--purge")
        say(f"kept   {data} (your flattrs, settings and logs); to delete them: {gone}")
    return 0


def _report_strays(platform: Platform, scope: str, say: Say) -> int:
    """Registrations of ours with no receipt (an older install, a hand copy): named, never
    removed, since nothing says we wrote them."""
    strays: dict[str, str] = {}
    for browser in b.BROWSERS:
        for loc in b.locations(browser, platform, scope):
            if loc.hive and loc.key and platform.registry is not None:
                if platform.registry.exists(loc.hive, loc.key):
                    strays[loc.registry_name or ""] = f'reg delete "{loc.registry_name}" /f'
            elif loc.manifest.exists():
                strays[str(loc.manifest)] = f"rm {shlex.quote(str(loc.manifest))}"
    for where, how in sorted(strays.items()):
        say(f"found  {where}, not written by flattr-host install; to remove it: {how}")
    return 1 if strays else 0
