"""`flattr-host uninstall --purge`: the registration and then the data folder, asked first."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from flattr_host.install import commands, purge
from flattr_host.install.platform import Platform
from helpers import firefox_user_env, run_cli
from test_install import HOST_FILE, install, make_platform, snapshot

FIREFOX_MANIFEST = Path("home/.mozilla/native-messaging-hosts") / HOST_FILE


def installed_with_data(tmp_path: Path) -> Platform:
    """Installed for Firefox, with a database, settings and a log in the data folder."""
    platform = make_platform(tmp_path)
    install(platform, "firefox")
    data = platform.data_home
    (data / "companion.sqlite3").write_bytes(b"SQLite format 3\x00")
    (data / "settings.json").write_text("{}", encoding="utf-8")
    (data / "logs").mkdir()
    (data / "logs" / "flattr-host.log").write_text("started\n", encoding="utf-8")
    return platform


def never_asked(prompt: str) -> str:
    raise AssertionError(f"asked {prompt!r}")


def purge_user_data(
    platform: Platform,
    *,
    ask: Callable[[str], str],
    at_a_terminal: bool,
    dry_run: bool = False,
    yes: bool = False,
) -> int:
    """``uninstall --purge`` of the user's install, answering its question with ``ask``."""
    return commands.uninstall(
        platform,
        False,
        dry_run,
        purge=True,
        yes=yes,
        ask=ask,
        interactive=lambda: at_a_terminal,
    )


def test_at_a_terminal_it_names_the_folder_asks_and_deletes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    platform = installed_with_data(tmp_path)
    prompts: list[str] = []

    def answer(prompt: str) -> str:
        prompts.append(prompt)
        return "y"

    status = purge_user_data(platform, ask=answer, at_a_terminal=True)
    out = capsys.readouterr().out
    assert status == 0, out
    assert prompts == ["Delete them? [y/N] "]
    assert (
        f"This deletes {platform.data_home} (flattrs, queue, sign-in token, settings, logs)" in out
    )
    assert f"removed  {platform.data_home}  (" in out
    assert "kept" not in out
    assert not platform.data_home.exists()
    assert not (tmp_path / FIREFOX_MANIFEST).exists()


@pytest.mark.parametrize("reply", ["", "n", "no", "yes please"])
def test_anything_but_yes_removes_nothing_at_all(tmp_path: Path, reply: str) -> None:
    platform = installed_with_data(tmp_path)
    before = snapshot(tmp_path)
    status = purge_user_data(platform, ask=lambda _: reply, at_a_terminal=True)
    assert status == 1
    assert snapshot(tmp_path) == before


def test_without_a_terminal_only_yes_confirms(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    platform = installed_with_data(tmp_path)
    before = snapshot(tmp_path)
    status = purge_user_data(platform, ask=never_asked, at_a_terminal=False)
    err = capsys.readouterr().err
    assert status == 2
    assert str(platform.data_home) in err and "uninstall --purge --yes" in err
    assert snapshot(tmp_path) == before
    status = purge_user_data(platform, ask=never_asked, at_a_terminal=False, yes=True)
    assert status == 0
    assert not platform.data_home.exists()


def test_dry_run_says_what_would_go_and_asks_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    platform = installed_with_data(tmp_path)
    before = snapshot(tmp_path)
    status = purge_user_data(platform, ask=never_asked, at_a_terminal=True, dry_run=True)
    assert status == 0
    assert f"would remove  {platform.data_home}  (" in capsys.readouterr().out
    assert snapshot(tmp_path) == before


def test_a_data_folder_that_is_the_home_folder_is_never_deleted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    platform = make_platform(tmp_path)
    (platform.home / "thesis.txt").write_text("years of work", encoding="utf-8")
    for data in (platform.home, tmp_path):  # the home folder itself, and a folder above it
        risky = Platform(
            os=platform.os,
            home=platform.home,
            env={**platform.env, "FLATTR_HOST_HOME": str(data)},
            data_home=data,
            executable=platform.executable,
            root=platform.root,
        )
        status = commands.uninstall(risky, False, False, purge=True, yes=True)
        assert status == 2
        assert "refusing to delete" in capsys.readouterr().err
    assert (platform.home / "thesis.txt").exists()


def test_purge_is_for_your_own_data_not_the_system_install(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    platform = installed_with_data(tmp_path)
    before = snapshot(tmp_path)
    assert commands.uninstall(platform, True, False, purge=True, yes=True) == 2
    assert "uninstall --purge" in capsys.readouterr().err
    assert snapshot(tmp_path) == before


def test_a_log_folder_elsewhere_goes_too_with_its_app_folder(tmp_path: Path) -> None:
    platform = make_platform(tmp_path)
    linux_logs = tmp_path / "home/.local/state/flattr-companion/log"
    assert list(purge.folders(platform, linux_logs)) == [
        platform.data_home,
        tmp_path / "home/.local/state/flattr-companion",
    ]
    mac_logs = tmp_path / "home/Library/Logs/flattr-companion"
    assert list(purge.folders(platform, mac_logs)) == [platform.data_home, mac_logs]
    # FLATTR_HOST_HOME keeps the logs inside the data folder: one folder to delete.
    assert purge.folders(platform) == {
        platform.data_home: "flattrs, queue, sign-in token, settings, logs"
    }


def test_plain_uninstall_keeps_the_data_and_names_the_purge_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    platform = installed_with_data(tmp_path)
    assert commands.uninstall(platform, False, False) == 0
    out = capsys.readouterr().out
    assert f"kept   {platform.data_home}" in out and "uninstall --purge" in out
    assert (platform.data_home / "companion.sqlite3").exists()


def test_cli_refuses_without_a_terminal_then_purges_with_yes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = firefox_user_env(tmp_path)

    before = snapshot(tmp_path)
    assert run_cli(env, "install", "--browser", "firefox").returncode == 0
    assert run_cli(env, "status").returncode == 0  # creates the database
    assert (data / "companion.sqlite3").exists()
    installed = snapshot(tmp_path)
    refused = run_cli(env, "uninstall", "--purge")
    assert refused.returncode == 2
    assert f"--purge deletes {data} (" in refused.stderr and "--yes" in refused.stderr
    assert snapshot(tmp_path) == installed
    done = run_cli(env, "uninstall", "--purge", "--yes")
    assert done.returncode == 0, done.stderr
    assert f"removed  {data}  (" in done.stdout
    assert snapshot(tmp_path) == before


def test_with_nothing_installed_it_still_deletes_the_data(tmp_path: Path) -> None:
    platform = make_platform(tmp_path)
    platform.data_home.mkdir()
    (platform.data_home / "companion.sqlite3").write_bytes(b"SQLite format 3\x00")
    assert commands.uninstall(platform, False, False, purge=True, yes=True) == 0
    assert not platform.data_home.exists()


def test_a_damaged_receipt_keeps_the_data_folder_that_holds_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    platform = installed_with_data(tmp_path)
    (platform.data_home / "install-receipt.json").write_text("{not json", encoding="utf-8")
    assert commands.uninstall(platform, False, False, purge=True, yes=True) == 1
    assert "kept: uninstalling failed" in capsys.readouterr().err
    assert (platform.data_home / "companion.sqlite3").exists()
    assert (tmp_path / FIREFOX_MANIFEST).exists()
