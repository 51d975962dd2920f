"""``flattr-host doctor``: for every browser found, is the host registered where the browser looks,
is the manifest right, does the host start the way the browser starts it and answer ``hello``?

Every failure says the exact command that fixes it. Static checks run first for every browser, then
the launches (a started host self-heals stale manifests, which would hide what it repaired).
"""

from __future__ import annotations

import os
import shlex
import stat
from dataclasses import dataclass, field
from pathlib import Path

from ..settings import Settings, SettingsError, load_settings
from . import browsers as b
from . import launcher, manifest, policy, probe, receipt, sandbox, trust
from .platform import SYSTEM, USER, WINDOWS, Platform, current_os
from .report import FAIL, INFO, OK, WARN, Finding, command, install_command


@dataclass
class Section:
    title: str
    findings: list[Finding] = field(default_factory=list)

    def add(self, status: str, message: str, fix: str | None = None) -> None:
        self.findings.append(Finding(status, message, fix))


@dataclass(frozen=True)
class _Launch:
    section: Section
    program: Path
    args: list[str]
    how: str


@dataclass(frozen=True)
class _Present:
    scope: str
    manifest: Path
    where: str  # the file, or the registry value naming it


def run(
    platform: Platform,
    settings: Settings,
    *,
    names: list[str] | None = None,
    timeout: float = probe.TIMEOUT,
    launch: bool | None = None,
    owners: trust.Owners | None = None,
) -> list[Section]:
    """Check everything; returns one section for the host, then one per browser."""
    if launch is None:  # a simulated Windows cannot start a .bat here, nor the reverse
        launch = (platform.os == WINDOWS) == (current_os() == WINDOWS)
    host = Section("flattr-host")
    _check_settings(platform, host)
    receipts = _check_receipts(platform, host, owners)
    targets = _targets(platform, names or ["auto"], receipts, host)
    sections = [host]
    launches: list[_Launch] = []
    for browser in targets:
        section = Section(browser.name)
        sections.append(section)
        launches += _check_browser(browser, platform, settings, section, names is not None)
    if not targets:
        host.add(
            FAIL,
            "no browser found (Chrome, Chromium, Edge, Brave, Vivaldi, Firefox); name yours",
            command(platform, "install", "--browser", "chrome"),
        )
    for job in launches:
        if not launch:
            job.section.add(INFO, f"not started: {platform.os} is simulated on this machine")
            continue
        _launch(job, platform, timeout)
    return sections


def exit_status(sections: list[Section]) -> int:
    return 1 if any(f.status == FAIL for s in sections for f in s.findings) else 0


def render(sections: list[Section]) -> list[str]:
    lines: list[str] = []
    for section in sections:
        lines.append(section.title)
        lines += [f"  {f.line()}" for f in section.findings]
    failures = sum(f.status == FAIL for s in sections for f in s.findings)
    lines.append("")
    lines.append(f"{failures} problem(s) found." if failures else "Everything works.")
    return lines


# --- the host ----------------------------------------------------------------------------------


def _check_settings(platform: Platform, host: Section) -> None:
    """The host refuses to work with an unusable settings.json: say so first, with the fix."""
    try:
        load_settings(platform.data_home, dict(platform.env))
    except SettingsError as exc:
        host.add(
            FAIL,
            f"{exc.message}; until it is fixed the host answers the extension settings_invalid",
            exc.command,
        )


def _check_receipts(
    platform: Platform, host: Section, owners: trust.Owners | None
) -> list[receipt.Receipt]:
    found: list[receipt.Receipt] = []
    for scope in (USER, SYSTEM):
        path = receipt.path_in(platform.data_dir(scope))
        try:
            record = receipt.load(path)
        except (ValueError, OSError) as exc:
            host.add(FAIL, str(exc), install_command(platform, "auto", scope))
            continue
        if record is None:
            continue
        found.append(record)
        if record.launcher:
            _check_launcher(Path(record.launcher), platform, host, scope, owners)
    if not found:
        host.add(INFO, "not installed by `flattr-host install` yet (no receipt)")
    return found


def _check_launcher(
    path: Path,
    platform: Platform,
    section: Section,
    scope: str,
    owners: trust.Owners | None = None,
) -> bool:
    fix = install_command(platform, "auto", scope)
    if not path.is_file():
        section.add(FAIL, f"launcher {path} is missing", fix)
        return False
    if platform.os != WINDOWS and not os.access(path, os.X_OK):
        section.add(
            FAIL, f"launcher {path} is not executable", f"chmod 755 {shlex.quote(str(path))}"
        )
        return False
    try:
        pinned = launcher.pinned_interpreter(path.read_text(encoding="utf-8", errors="replace"))
    except OSError as exc:
        section.add(FAIL, f"launcher {path} cannot be read: {exc.strerror}", fix)
        return False
    if pinned is not None and not pinned.exists():
        section.add(
            FAIL,
            f"launcher {path} pins {pinned}, which no longer exists (environment moved or deleted)",
            f"{fix}   (from the environment the host should run in)",
        )
        return False
    if scope == SYSTEM and platform.os != WINDOWS and pinned is not None:
        # What `install --system` checked may have changed since: every user still runs it.
        runs = [path, *trust.runtime_paths(pinned, None, launcher.PACKAGE_DIR)]
        unsafe = trust.problems(runs, owners or trust.Owners.current())
        for problem in unsafe:
            section.add(
                FAIL,
                f"every user's browser runs {pinned}, but {problem.path} {problem.why}",
                problem.fix,
            )
        if unsafe:
            return False
    section.add(OK, f"launcher {path}" + (f" pins {pinned}" if pinned else ""))
    return True


def _targets(
    platform: Platform, names: list[str], receipts: list[receipt.Receipt], host: Section
) -> list[b.Browser]:
    chosen: list[b.Browser] = []
    for name in [p.strip().lower() for n in names for p in n.split(",") if p.strip()]:
        if name == "auto":
            installed = {k for r in receipts for f in r.files for k in f.browsers}
            installed |= {k for r in receipts for e in r.registry for k in e.browsers}
            chosen += [
                x
                for x in b.BROWSERS
                if x.supports(platform.os, USER)
                and (
                    b.is_installed(x, platform)
                    or x.key in installed
                    or b.snap_installed(x, platform)
                )
            ]
        elif name == "all":
            chosen += [x for x in b.BROWSERS if x.supports(platform.os, USER)]
        elif name in b.BY_KEY:
            chosen.append(b.BY_KEY[name])
        else:
            host.add(
                FAIL,
                f"unknown browser {name!r}; known: {', '.join(b.BY_KEY)}",
                command(platform, "doctor", "--browser", "auto"),
            )
    return list(dict.fromkeys(chosen))


# --- one browser -------------------------------------------------------------------------------


def _check_browser(
    browser: b.Browser, platform: Platform, settings: Settings, section: Section, named: bool
) -> list[_Launch]:
    snap = sandbox.snap_finding(browser, platform)
    if snap is not None:
        section.findings.append(snap)
        if snap.status == FAIL and not named and not b.is_installed(browser, platform):
            return []  # only the Snap is here: nothing else to check
    verdict = policy.verdict(policy.read(browser, platform))
    if verdict.blocked_by:
        section.add(
            FAIL,
            f"policy in {verdict.blocked_by} blocks native-messaging hosts",
            f"ask your administrator to add {manifest.HOST_NAME} to {policy.ALLOWLIST}",
        )
    present = _present(browser, platform)
    user_ok = verdict.user_hosts_disabled is None
    usable = [p for p in present if p.scope == SYSTEM or user_ok]
    if not present:
        scope = USER if user_ok or not browser.supports(platform.os, SYSTEM) else SYSTEM
        looked = [
            loc.registry_name or str(loc.manifest) for loc in b.locations(browser, platform, scope)
        ]
        section.add(
            FAIL,
            f"no manifest where {browser.name} looks ({', '.join(looked)})",
            install_command(platform, browser.key, scope),
        )
        if not user_ok:
            section.add(INFO, f"policy in {verdict.user_hosts_disabled} disables per-user hosts")
        return []
    if not usable:
        section.add(
            FAIL,
            f"policy in {verdict.user_hosts_disabled} disables per-user hosts, and no "
            "system-wide manifest exists",
            install_command(platform, browser.key, SYSTEM),
        )
    launches: list[_Launch] = []
    for item in usable:  # the ones policy makes the browser ignore are not worth checking
        program, caller = _check_manifest(item, browser, platform, settings, section)
        if program is None or caller is None or item != usable[0]:
            continue
        if browser.flatpak:
            program = _check_flatpak(browser, program, platform, section)
            if program is None:
                continue
        args = probe.argv(browser.family, platform.os, item.manifest, caller)
        how = f"started as {browser.name} starts it"
        if browser.flatpak:
            how = "started directly (doctor runs outside the sandbox)"
        launches.append(_Launch(section, program, args, how))
    return launches


def _present(browser: b.Browser, platform: Platform) -> list[_Present]:
    """The manifests this browser would find, user ones first (the order browsers look in)."""
    found: list[_Present] = []
    for scope in (USER, SYSTEM):
        for loc in b.locations(browser, platform, scope):
            if loc.hive and loc.key:
                value = (
                    platform.registry.values(loc.hive, loc.key).get("")
                    if platform.registry
                    else None
                )
                if isinstance(value, str) and value:
                    found.append(_Present(scope, Path(value), f"{loc.registry_name} → {value}"))
            elif loc.manifest.exists() or loc.manifest.is_symlink():
                found.append(_Present(scope, loc.manifest, str(loc.manifest)))
    return found


def _check_manifest(
    item: _Present, browser: b.Browser, platform: Platform, settings: Settings, section: Section
) -> tuple[Path | None, str | None]:
    """Static checks of one manifest. Returns (program to start, caller id) when it is sound."""
    fix = install_command(platform, browser.key, item.scope)
    path = item.manifest
    try:
        data = manifest.load(path)
    except FileNotFoundError:
        section.add(FAIL, f"{item.where}: the manifest file does not exist", fix)
        return None, None
    except OSError as exc:
        section.add(FAIL, f"{path} cannot be read: {exc.strerror}", fix)
        return None, None
    except ValueError as exc:
        section.add(FAIL, f"{path} is not valid JSON ({exc})", fix)
        return None, None
    problems: list[str] = []
    if data.get("name") != manifest.HOST_NAME:
        problems.append(f"names the host {data.get('name')!r}, not {manifest.HOST_NAME!r}")
    elif platform.os != WINDOWS and path.stem != manifest.HOST_NAME:
        problems.append(f"must be called {manifest.HOST_NAME}.json")
    if data.get("type") != "stdio":
        problems.append(f"has type {data.get('type')!r}, not 'stdio'")
    allow_field = manifest.ALLOW_FIELD[browser.family]
    allowed = data.get(allow_field)
    expected = manifest.expected_allow_list(browser.family, settings)
    if not isinstance(allowed, list):
        problems.append(f"has no {allow_field} list (wrong browser family?)")
        allowed = []
    missing = [i for i in expected if i not in allowed]
    if missing:
        problems.append(f"does not allow {', '.join(missing)} (wrong extension id)")
    if problems:
        for problem in problems:
            section.add(FAIL, f"{path} {problem}", fix)
        return None, None
    private = platform.os != WINDOWS and not path.stat().st_mode & stat.S_IROTH
    if item.scope == SYSTEM and private:
        section.add(
            FAIL,
            f"{path} is not readable by other users",
            f"sudo chmod 644 {shlex.quote(str(path))}",
        )
        return None, None
    program = _program(data.get("path"), path, platform, section, fix)
    if program is None:
        return None, None
    extra = [i for i in allowed if i not in expected]
    if extra:
        section.add(
            INFO, f"{path} also allows {', '.join(map(str, extra))}, which the host refuses"
        )
    section.add(OK, f"manifest {item.where}")
    caller = expected[0] if expected else None
    if caller and browser.family == manifest.CHROMIUM:
        caller = caller.removeprefix(manifest.ORIGIN_PREFIX).rstrip("/")
    return program, caller


def _program(
    value: object, manifest_path: Path, platform: Platform, section: Section, fix: str
) -> Path | None:
    """The manifest's ``path``: absolute (relative only on Windows), existing, executable."""
    if not isinstance(value, str) or not value:
        section.add(FAIL, f"{manifest_path} has no host path", fix)
        return None
    program = Path(value)
    if not program.is_absolute():
        if platform.os != WINDOWS:
            section.add(FAIL, f"{manifest_path}: host path {value!r} must be absolute", fix)
            return None
        program = manifest_path.parent / program
    if not program.exists():
        section.add(FAIL, f"{manifest_path} points at {program}, which does not exist", fix)
        return None
    if not program.is_file():
        section.add(FAIL, f"{manifest_path} points at {program}, which is not a file", fix)
        return None
    if platform.os != WINDOWS and not os.access(program, os.X_OK):
        section.add(
            FAIL,
            f"{program} (the host {manifest_path.name} names) is not executable",
            f"chmod 755 {shlex.quote(str(program))}",
        )
        return None
    try:
        head = program.read_bytes()[:256]
    except OSError:
        head = b""
    if head.startswith(b"#!/usr/bin/env"):
        section.add(
            WARN,
            f"{program} finds Python through PATH, which differs when a browser starts it",
            install_command(platform, "auto", USER),
        )
    return program


def _check_flatpak(
    browser: b.Browser, wrapper: Path, platform: Platform, section: Section
) -> Path | None:
    """The wrapper in the sandbox, the permission it needs, and the launcher it starts."""
    assert browser.flatpak is not None
    if not sandbox.flatpak_can_spawn(platform, browser.flatpak):
        section.add(
            FAIL,
            f"{browser.name} may not start programs outside its sandbox (flatpak-spawn --host)",
            sandbox.override_command(browser.flatpak),
        )
    try:
        last = wrapper.read_text(encoding="utf-8").strip().splitlines()[-1]
        words = shlex.split(last)
        target = Path(words[words.index("--host") + 1])
    except (OSError, ValueError, IndexError):
        section.add(
            FAIL,
            f"{wrapper} is not a flatpak-spawn wrapper",
            install_command(platform, browser.key, USER),
        )
        return None
    if not target.is_file():
        section.add(
            FAIL,
            f"{wrapper} starts {target}, which does not exist",
            install_command(platform, browser.key, USER),
        )
        return None
    return target


def _launch(job: _Launch, platform: Platform, timeout: float) -> None:
    outcome = probe.hello(job.program, job.args, platform, timeout)
    if outcome.ok:
        job.section.add(OK, f"host {outcome.message}, {job.how}")
        for repair in outcome.repairs:
            job.section.add(INFO, f"the host repaired at start: {repair}")
        return
    detail = f"; its stderr: {outcome.stderr.replace(chr(10), ' | ')}" if outcome.stderr else ""
    if outcome.command:  # the host named its own fix
        job.section.add(FAIL, f"host {job.how} failed: {outcome.message}", outcome.command)
        return
    again = " ".join(shlex.quote(a) for a in [str(job.program), *job.args])
    job.section.add(
        FAIL,
        f"host {job.how} failed: {outcome.message}{detail}",
        f"{again} < /dev/null   (shows the host's own error)"
        if platform.os != WINDOWS
        else f'"{job.program}" {" ".join(job.args)}',
    )
