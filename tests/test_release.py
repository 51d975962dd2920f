"""The release as a user gets it: `scripts/release` builds the files once for this module; the wheel
is installed into a fresh venv (what pipx does), registered for Chromium and Firefox in a
temporary HOME, checked by `doctor`, spoken to through the installed launcher, and removed."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from types import ModuleType

import httpx
import pytest

import flattr_host
from hostproc import CHROME_ID, FIREFOX_ID
from test_install import HOST_FILE, say_hello

REPO = Path(__file__).resolve().parents[1]
VERSION = flattr_host.__version__
# The wheel carries the host and the local Flattr server, each a package of its own.
PACKAGE_DIRS = (REPO / "host" / "flattr_host", REPO / "host" / "flattr_sim")
TARGETS = ("chromium", "firefox")
# Building the release and installing the wheel with its dependencies (from pip's cache) take a
# while on a busy 2-core machine: the module's tests share one build.
pytestmark = pytest.mark.timeout(600)


def load_release_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("release", REPO / "scripts" / "release.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


release_script = load_release_script()


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "release.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=500,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out


# --- the files ---------------------------------------------------------------------------------


def test_the_release_is_four_files_and_their_checksums(dist: Path) -> None:
    names = release_script.artefacts(VERSION)
    assert sorted(p.name for p in dist.iterdir() if p.is_file()) == sorted([*names, "SHA256SUMS"])
    sums = (dist / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    assert sums == [
        f"{hashlib.sha256((dist / name).read_bytes()).hexdigest()}  {name}" for name in names
    ]
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=dist, capture_output=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_one_version_everywhere(dist: Path) -> None:
    with zipfile.ZipFile(dist / f"flattr_companion-{VERSION}-py3-none-any.whl") as wheel:
        metadata = wheel.read(f"flattr_companion-{VERSION}.dist-info/METADATA").decode()
    assert f"\nVersion: {VERSION}\n" in metadata
    with tarfile.open(dist / f"flattr_companion-{VERSION}.tar.gz") as sdist:
        member = sdist.extractfile(f"flattr_companion-{VERSION}/PKG-INFO")
        assert member is not None
        assert f"\nVersion: {VERSION}\n" in member.read().decode()
    for target in TARGETS:
        assert json.loads((dist / target / "manifest.json").read_bytes())["version"] == VERSION
    assert release_script.changelog_has(VERSION, REPO / "CHANGELOG.md")
    # No second place to forget: the extension's files carry no version of their own.
    for path in ("extension/manifest.base.json", "extension/package.json"):
        assert "version" not in json.loads((REPO / path).read_text(encoding="utf-8")), path


def package_files() -> set[str]:
    """Every file of the packages under host/ a checkout has (caches aside), as wheel names."""
    return {
        path.relative_to(package.parent).as_posix()
        for package in PACKAGE_DIRS
        for path in package.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_the_wheel_holds_the_host_and_nothing_else(dist: Path) -> None:
    with zipfile.ZipFile(dist / f"flattr_companion-{VERSION}-py3-none-any.whl") as wheel:
        names = {n for n in wheel.namelist() if not n.startswith("flattr_companion-")}
        entry_points = wheel.read(f"flattr_companion-{VERSION}.dist-info/entry_points.txt")
    assert names == package_files()
    # What the host reads at run time besides its modules.
    for needed in (
        "flattr_sim/ext.html",
        "flattr_host/install/templates/chromium.json",
        "flattr_host/install/templates/firefox.json",
    ):
        assert needed in names
    assert b"flattr-host = flattr_host.__main__:main" in entry_points


def test_the_sdist_builds_the_wheel_and_carries_no_extension_or_tests(dist: Path) -> None:
    with tarfile.open(dist / f"flattr_companion-{VERSION}.tar.gz") as sdist:
        top = f"flattr_companion-{VERSION}/"
        names = {m.name.removeprefix(top) for m in sdist.getmembers() if m.isfile()}
    sources = {f"host/{name}" for name in package_files()}
    assert sources <= names
    assert {"pyproject.toml", "README.md", "CHANGELOG.md", "protocol.schema.json"} <= names
    assert not any(n.startswith(("tests/", "extension/", "scripts/")) for n in names)


@pytest.mark.parametrize("target", TARGETS)
def test_each_store_zip_holds_exactly_the_built_files(dist: Path, target: str) -> None:
    built_dir = dist / target
    built = {
        p.relative_to(built_dir).as_posix(): p.read_bytes()
        for p in built_dir.rglob("*")
        if p.is_file()
    }
    with zipfile.ZipFile(dist / f"flattr-companion-{target}-{VERSION}.zip") as store:
        assert store.testzip() is None
        packed = {name: store.read(name) for name in store.namelist()}
    assert sorted(packed) == sorted(built)
    for name, data in built.items():
        if name != "manifest.json":
            assert packed[name] == data, name
    unpacked, shipped = json.loads(built["manifest.json"]), json.loads(packed["manifest.json"])
    assert "key" not in shipped, "the Chrome Web Store refuses packages with a key"
    if target == "chromium":
        assert unpacked.pop("key")  # the unpacked build keeps the development id
    assert shipped == unpacked


def test_the_sdist_is_dated_by_the_last_commit(dist: Path) -> None:
    stamp = release_script.source_date_epoch()
    assert stamp is not None, "the tests run from a git checkout"
    with tarfile.open(dist / f"flattr_companion-{VERSION}.tar.gz") as sdist:
        assert {m.mtime for m in sdist.getmembers()} == {int(stamp)}
        assert {(m.uid, m.gid) for m in sdist.getmembers()} == {(0, 0)}


def _tarball(path: Path, files: dict[str, bytes], mtime: int, uid: int) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.uid, info.mode = len(data), mtime, uid, 0o664
            tar.addfile(info, io.BytesIO(data))


def test_normalizing_makes_one_sdist_of_two_builds_of_the_same_files(tmp_path: Path) -> None:
    files = {"p-1/setup.cfg": b"[metadata]\n", "p-1/a.py": b"print(1)\n"}
    first, second = tmp_path / "first.tar.gz", tmp_path / "second.tar.gz"
    _tarball(first, files, mtime=1_700_000_000, uid=1000)
    _tarball(second, dict(reversed(files.items())), mtime=1_800_000_000, uid=0)
    assert first.read_bytes() != second.read_bytes()
    for path in (first, second):
        release_script.normalize_sdist(path, 1_600_000_000)
    assert first.read_bytes() == second.read_bytes()
    with tarfile.open(first) as tar:
        assert tar.getnames() == sorted(files)
        assert {n: tar.extractfile(n).read() for n in files} == files  # type: ignore[union-attr]
        assert {m.mode for m in tar.getmembers()} == {0o644}


def test_a_version_without_a_changelog_entry_is_refused(tmp_path: Path) -> None:
    changelog = tmp_path / "CHANGELOG.md"
    changelog.write_text("# Changelog\n\n## 0.1.0 — 2026-11-29\n\n- first\n", encoding="utf-8")
    assert release_script.changelog_has("0.1.0", changelog)
    for other in ("0.1.1", "0.1", "10.1.0"):
        assert not release_script.changelog_has(other, changelog), other
    assert not release_script.changelog_has("0.1.0", tmp_path / "missing.md")
    with pytest.raises(release_script.ReleaseError, match=f"no entry for {VERSION}"):
        release_script.release(tmp_path / "out", tmp_path / "missing.md")
    assert not (tmp_path / "out").exists(), "nothing is built for an undocumented version"


# --- installed from the wheel ------------------------------------------------------------------


def test_the_installed_wheel_installs_checks_answers_and_uninstalls(
    dist: Path, tmp_path: Path
) -> None:
    venv, home = tmp_path / "venv", tmp_path / "home"
    home.mkdir()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    bindir = venv / "bin"
    # pip from the real environment: its cache makes the dependencies quick.
    wheel = dist / f"flattr_companion-{VERSION}-py3-none-any.whl"
    pip = subprocess.run(
        [
            str(bindir / "python"),
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "-q",
            wheel,
        ],
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert pip.returncode == 0, pip.stdout + pip.stderr
    # A user's terminal: a HOME of its own, the venv's bin on PATH, no checkout anywhere.
    user_env = {"HOME": str(home), "PATH": f"{bindir}:/usr/bin:/bin", "LANG": "C.UTF-8"}

    def flattr_host(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(bindir / "flattr-host"), *args],
            env=user_env,
            cwd=home,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )

    assert flattr_host("--version").stdout == f"flattr-host {VERSION}\n"
    schema = flattr_host("schema", "--check", str(REPO / "protocol.schema.json"))
    assert schema.returncode == 0, schema.stdout + schema.stderr
    # The local Flattr server ships too; without the `sim` extra, --tls says how to add trustme
    # to this very environment.
    no_tls = flattr_host("sim", "--tls")
    assert no_tls.returncode == 1, no_tls.stdout + no_tls.stderr
    assert f"{bindir}/python" in no_tls.stderr
    assert "-m pip install trustme" in no_tls.stderr

    installed = flattr_host("install", "--browser", "chromium", "--browser", "firefox")
    assert installed.returncode == 0, installed.stdout + installed.stderr
    chromium = home / ".config/chromium/NativeMessagingHosts" / HOST_FILE
    firefox = home / ".mozilla/native-messaging-hosts" / HOST_FILE
    data = home / ".local/share/flattr-companion"
    launcher = data / "flattr-host-launcher"
    for manifest in (chromium, firefox):
        assert json.loads(manifest.read_text(encoding="utf-8"))["path"] == str(launcher)
    # It runs the installed package by itself: no source folder, no checkout on any path.
    text = launcher.read_text(encoding="utf-8")
    assert f"exec {bindir / 'python'} -I -c 'import sys; from flattr_host.__main__ import" in text
    assert "FLATTR_HOST_SOURCE" not in text and str(REPO) not in text

    doctor = flattr_host("doctor", "--browser", "chromium", "--browser", "firefox")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert f"flattr-host {VERSION} doctor" in doctor.stdout
    assert "Everything works." in doctor.stdout

    desktop = {"HOME": str(home), "PATH": "/usr/bin:/bin"}  # a browser started from a menu
    for argv in ([f"chrome-extension://{CHROME_ID}/"], [str(firefox), FIREFOX_ID]):
        reply = say_hello(str(launcher), argv, desktop)
        assert reply["ok"] is True, reply
        result = reply["result"]
        assert isinstance(result, dict) and result["host_version"] == VERSION
    assert (data / "companion.sqlite3").is_file()

    assert_serves_the_local_flattr_page(bindir, user_env)

    gone = flattr_host("uninstall", "--purge", "--yes")
    assert gone.returncode == 0, gone.stdout + gone.stderr
    left = sorted(str(p.relative_to(home)) for p in home.rglob("*") if "flattr" in p.name)
    assert left == [], left
    assert not chromium.exists() and not firefox.exists() and not data.exists()


def assert_serves_the_local_flattr_page(bindir: Path, env: dict[str, str]) -> None:
    """The installed copy's local Flattr server finds its page (package data)."""
    sim = subprocess.Popen(
        [str(bindir / "flattr-host"), "sim", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert sim.stdout is not None
        ready = sim.stdout.readline()
        assert ready, sim.stderr.read() if sim.stderr else ""
        base = json.loads(ready)["base"]
        with httpx.Client(trust_env=False, timeout=30) as client:
            page = client.get(f"{base}/oauth/ext")
        assert page.status_code == 200 and "<html" in page.text.lower()
    finally:
        sim.terminate()
        sim.wait(30)
