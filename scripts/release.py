"""Build a release into dist/ (or --out DIR): the wheel and sdist, the two store packages of the
extension, and SHA256SUMS, all of one version: ``__version__`` in host/flattr_host/__init__.py.

Run through ./scripts/release (which sets up .venv with `build` first).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VERSION_FILE = REPO / "host" / "flattr_host" / "__init__.py"
CHANGELOG = REPO / "CHANGELOG.md"
SUMS = "SHA256SUMS"
NODE_MIN = 20


class ReleaseError(Exception):
    """What stops a release, with what to do about it."""


def read_version(path: Path = VERSION_FILE) -> str:
    """The one version, read (not imported) exactly as setuptools and the extension build do."""
    found = re.search(r'^__version__ = "([^"]*)"$', path.read_text(encoding="utf-8"), re.M)
    if not found:
        raise ReleaseError(f'{path} has no line __version__ = "X.Y.Z"')
    return found.group(1)


def changelog_has(version: str, path: Path) -> bool:
    """True when ``path`` has a heading for ``version``: ``## 1.2.0``, ``## [1.2.0] - 2026-01-31``
    or ``## 1.2.0 — 2026-01-31``."""
    if not path.is_file():
        return False
    heading = re.compile(rf"^##\s+\[?v?{re.escape(version)}\]?(\s|$)", re.M)
    return heading.search(path.read_text(encoding="utf-8")) is not None


def artefacts(version: str) -> list[str]:
    """The release's files, SHA256SUMS excepted (names as `build` and build.mjs write them)."""
    return [
        f"flattr_companion-{version}-py3-none-any.whl",
        f"flattr_companion-{version}.tar.gz",
        f"flattr-companion-chromium-{version}.zip",
        f"flattr-companion-firefox-{version}.zip",
    ]


def clear_old(out: Path) -> None:
    """Earlier releases' files, so that dist/ and SHA256SUMS hold this release only."""
    for pattern in ("flattr_companion-*", "flattr-companion-*.zip", SUMS):
        for old in out.glob(pattern):
            old.unlink()


def clear_build_state() -> None:
    """setuptools reuses the file list of an earlier egg-info (an editable install writes one):
    stale, it would put files into the sdist that the package no longer declares."""
    for stale in [*REPO.glob("host/*.egg-info"), REPO / "build"]:
        shutil.rmtree(stale, ignore_errors=True)


def run(argv: list[str], what: str, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise ReleaseError(f"{what} failed ({' '.join(argv)}):\n{done.stdout}{done.stderr}")


def check_node() -> str:
    node = shutil.which("node")
    hint = f"install Node.js {NODE_MIN} or newer (Debian/Ubuntu: sudo apt-get install nodejs)"
    if node is None:
        raise ReleaseError(f"the extension is built with Node.js, which is not on PATH: {hint}")
    major = subprocess.run(
        [node, "-p", "process.versions.node.split('.')[0]"], text=True, capture_output=True
    ).stdout.strip()
    if not major.isdigit() or int(major) < NODE_MIN:
        raise ReleaseError(f"Node.js {major or '?'} is too old: {hint}")
    return node


def source_date_epoch() -> str | None:
    """The last commit's time, so that a rebuild of the same commit gives the same wheel."""
    if "SOURCE_DATE_EPOCH" in os.environ:
        return os.environ["SOURCE_DATE_EPOCH"]
    try:
        done = subprocess.run(
            ["git", "log", "-1", "--format=%ct"], cwd=REPO, text=True, capture_output=True
        )
    except OSError:
        return None
    stamp = done.stdout.strip()
    return stamp if done.returncode == 0 and stamp.isdigit() else None


def normalize_sdist(path: Path, stamp: int) -> None:
    """Rewrite the sdist so that the same commit always gives the same bytes: setuptools keeps
    each file's mtime, owner and order, and gzip's own time stamp. Members are sorted, dated
    ``stamp``, owned by root, modes 0644/0755, and the gzip header carries ``stamp`` and no name."""
    with tarfile.open(path, "r:gz") as source:
        members = sorted(source.getmembers(), key=lambda m: m.name)
        contents = {m.name: source.extractfile(m).read() for m in members if m.isfile()}  # type: ignore[union-attr]
    packed = io.BytesIO()
    with tarfile.open(fileobj=packed, mode="w", format=tarfile.PAX_FORMAT) as target:
        for member in members:
            member.mtime = stamp
            member.uid = member.gid = 0
            member.uname = member.gname = ""
            executable = member.isdir() or member.mode & 0o111
            member.mode = 0o755 if executable else 0o644
            member.pax_headers = {}
            data = contents.get(member.name)
            target.addfile(member, io.BytesIO(data) if data is not None else None)
    with (
        path.open("wb") as raw,
        gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=stamp) as gz,
    ):
        gz.write(packed.getvalue())


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def release(out: Path, changelog: Path = CHANGELOG) -> list[Path]:
    version = read_version()
    if not changelog_has(version, changelog):
        raise ReleaseError(
            f"{changelog.name} has no entry for {version}: add a section `## {version}` saying "
            "what changed for users, then run ./scripts/release again"
        )
    node = check_node()
    out.mkdir(parents=True, exist_ok=True)
    clear_old(out)
    env = dict(os.environ)
    stamp = source_date_epoch()
    if stamp:
        env["SOURCE_DATE_EPOCH"] = stamp
    print(f"== flattr-companion {version} → {out}", flush=True)
    print("== wheel and sdist (python -m build)", flush=True)
    clear_build_state()
    run([sys.executable, "-m", "build", "--outdir", str(out), str(REPO)], "python -m build", env)
    if stamp:
        normalize_sdist(out / f"flattr_companion-{version}.tar.gz", int(stamp))
    print("== extension store packages", flush=True)
    run([node, str(REPO / "extension" / "tools" / "build.mjs"), "--out", str(out)], "build.mjs")
    files = [out / name for name in artefacts(version)]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        made = ", ".join(sorted(p.name for p in out.iterdir()))
        raise ReleaseError(f"the build did not write {', '.join(missing)} (found: {made})")
    sums = "".join(f"{sha256(f)}  {f.name}\n" for f in files)
    (out / SUMS).write_text(sums, encoding="utf-8")
    return [*files, out / SUMS]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/release", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "dist", help="default: dist/")
    args = parser.parse_args(argv)
    try:
        written = release(args.out.resolve())
    except ReleaseError as exc:
        print(f"release: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(f"  {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    print("Check them with: (cd " + str(args.out) + " && sha256sum -c SHA256SUMS)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
