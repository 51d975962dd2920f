"""Native-messaging mode: what runs when a browser starts the host.

Order matters for the browser's wait: protect stdout, check the caller, answer ``hello`` with stdlib
code only, and only then import pydantic, SQLite and the rest (``service``).
"""

from __future__ import annotations

import _thread
import os
import sys

from . import framing, hello
from .replies import error, ok, request_id
from .settings import Settings, SettingsError, load_settings

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing before hello
if TYPE_CHECKING:  # imported for real only after hello, see _Backend
    from collections.abc import Callable
    from pathlib import Path
    from typing import Any, BinaryIO

    from .scheduler import SubmitLoop
    from .service import Service

CHROME_ORIGIN_PREFIX = "chrome-extension://"
# Written by `flattr-host install` next to the launcher (install/receipt.py, FILE_NAME).
RECEIPT_FILE = "install-receipt.json"
# select() can wait on stdin (a pipe) everywhere but on Windows.
IDLE_CHECKPOINTS = os.name != "nt"
# After hello, the submission loop starts unless a request comes within this (seconds): an
# extension asks for status right after hello, and the popup waits for that answer. On a busy
# machine that request came 50–700 ms after hello, and one arriving while the loop's imports run
# (~0.5 s) waits for them; the loop loses nothing by starting a second later.
LOOP_START_IDLE = 1.0
SEE_WHY = "run `flattr-host status` in a terminal to see what is wrong"


def caller_id(argv: list[str]) -> str | None:
    """The calling extension's id, from the argv each browser family passes.

    Chromium family: ``chrome-extension://<id>/`` (plus ``--parent-window=<n>`` on Windows).
    Firefox: ``<manifest path> <add-on id>``. Some launchers (Snap's portal) pass nothing: None.
    """
    args = [a for a in argv if not a.startswith("--parent-window")]
    for arg in args:
        if arg.startswith(CHROME_ORIGIN_PREFIX):
            return arg[len(CHROME_ORIGIN_PREFIX) :].strip("/")
    if len(args) >= 2 and args[0].endswith(".json"):
        return args[1]
    return None


def looks_like_browser_launch(argv: list[str]) -> bool:
    """True for the argv a browser uses; the CLI's subcommands never look like this."""
    if not argv:
        return False
    return argv[0].startswith(CHROME_ORIGIN_PREFIX) or (
        argv[0].endswith(".json") and len(argv) >= 2 and not argv[0].startswith("-")
    )


class FrameReader:
    """Reads frames from a raw fd, keeping what ``os.read`` returned beyond the current frame so
    that frames the browser sent in one burst can share a transaction (group commit)."""

    def __init__(self, fd: int, max_size: int) -> None:
        self._fd = fd
        self._max = max_size
        self._buffer = bytearray()

    def _fill(self, size: int) -> None:
        while len(self._buffer) < size:
            chunk = os.read(self._fd, max(65536, size - len(self._buffer)))
            if not chunk:
                raise framing.EndOfInput
            self._buffer += chunk

    def read(self) -> bytes:
        self._fill(framing.HEADER.size)
        (length,) = framing.HEADER.unpack_from(self._buffer)
        if length > self._max:
            raise framing.FrameError(
                "frame_too_large",
                f"announced frame of {length} bytes exceeds the {self._max}-byte cap",
            )
        self._fill(framing.HEADER.size + length)
        payload = bytes(self._buffer[framing.HEADER.size : framing.HEADER.size + length])
        del self._buffer[: framing.HEADER.size + length]
        return payload

    def idle_for(self, seconds: float) -> bool:
        """True when nothing arrives on stdin within ``seconds`` (nothing buffered either)."""
        if self._buffer:
            return False
        import select  # not before hello: nothing waits this way until a request was answered

        return not select.select([self._fd], [], [], seconds)[0]

    def has_complete_frame(self) -> bool:
        if len(self._buffer) < framing.HEADER.size:
            return False
        length: int = framing.HEADER.unpack_from(self._buffer)[0]
        return length > self._max or len(self._buffer) >= framing.HEADER.size + length


class FrameWriter:
    """Writes whole frames; shared by the request loop and the submission thread's events."""

    def __init__(self, out: BinaryIO, max_size: int) -> None:
        self._out = out
        self._max = max_size
        self._lock = _thread.allocate_lock()  # threading's Lock, without importing threading

    def send(self, message: dict[str, Any]) -> None:
        try:
            frame = framing.encode(message, self._max)
        except ValueError as exc:
            frame = framing.encode(
                error(message.get("id"), "reply_too_large", f"{exc}; ask for a smaller page"),
                self._max,
            )
        with self._lock:
            self._out.write(frame)
            self._out.flush()


def answer_hello(message: dict[str, Any], repairs: list[str]) -> dict[str, Any]:
    rid = request_id(message)
    problem = hello.check_version(message)
    if problem is not None:
        return error(rid, problem.code, problem.message, problem.command)
    return ok(rid, hello.hello_result(repairs))


def serve(
    argv: list[str],
    *,
    home: str | os.PathLike[str],
    settings: Settings | None = None,
    stdin_fd: int | None = None,
    out: BinaryIO | None = None,
) -> int:
    """Run the native-messaging loop until end of input. Returns the exit status."""
    if out is None:
        out = framing.protect_stdout()
    if stdin_fd is None:
        stdin_fd = sys.stdin.fileno()
    # Unusable settings: every request, hello first, is answered with why and how to fix it,
    # instead of an exit the extension could only call a crash. Nothing else is done, so the
    # caller is not checked either: the allow list may be what the broken file was extending.
    broken: _Refusal | None = None
    if settings is None:
        try:
            settings = load_settings(home)
        except SettingsError as exc:
            print(f"flattr-host: {exc}", file=sys.stderr)
            settings = Settings()
            broken = _Refusal("settings_invalid", exc.message, exc.command)
    writer = FrameWriter(out, settings.max_outgoing_frame)
    reader = FrameReader(stdin_fd, settings.max_incoming_frame)

    caller = caller_id(argv)
    if broken is None and caller is not None and caller not in settings.extension_ids:
        writer.send(
            error(
                None,
                "forbidden_caller",
                f"extension {caller!r} may not use flattr-host; allowed: "
                f"{', '.join(settings.extension_ids)}",
            )
        )
        return 1

    # Manifests we installed that point elsewhere are re-pointed here; hello tells the extension.
    repairs = _self_heal(home, settings) if broken is None else []

    backend = _Backend(os.fspath(home), settings, writer.send, broken)
    try:
        while True:
            if backend.wal_dirty and reader.idle_for(settings.idle_checkpoint_after):
                backend.checkpoint()  # nobody is waiting for us now
            batch: list[Any] = []
            try:
                batch.append(_decode(reader.read()))
                while len(batch) < settings.max_group_commit and reader.has_complete_frame():
                    batch.append(_decode(reader.read()))
            except framing.FrameError as exc:
                # Only an over-cap length gets here: the stream cannot be resynchronised.
                if batch:
                    _send_all(writer, backend.handle(batch))
                writer.send(error(None, exc.code, exc.message))
                return 1
            if backend.service is None and broken is None and _is_hello(batch[0]):
                # Answered before any heavy import: the browser is waiting for it.
                writer.send(answer_hello(batch.pop(0), repairs))
            if batch:
                _send_all(writer, backend.handle(batch))
                backend.after_reply()
            elif not IDLE_CHECKPOINTS or reader.idle_for(LOOP_START_IDLE):
                backend.start_loop()  # now, while the browser has nothing else for us
            else:
                backend.prepare()  # logs and database: cheap, and ready for the request waiting
    except (framing.EndOfInput, SystemExit):
        return 0
    finally:
        backend.close()


class _Backend:
    """The submission loop (started right after ``hello``) and the service (at the first other
    request: validation imports pydantic, the heaviest part).

    The loop's thread starts only once every module it runs is imported, so that no two threads
    ever import at once (concurrent first imports can leave a module half-initialised). A start
    that fails is retried at the next request, never kept for the whole connection."""

    def __init__(
        self,
        home: str,
        settings: Settings,
        emit: Callable[[dict[str, Any]], None],
        broken: _Refusal | None = None,
    ) -> None:
        self._home, self._settings, self._emit = home, settings, emit
        # Unusable settings: nothing is started, every request gets the refusal.
        self._broken = broken
        self.loop: SubmitLoop | None = None
        self.service: Service | None = None
        # Requests were committed since the last checkpoint (POSIX only: select() cannot wait on
        # a pipe on Windows, where SQLite's own checkpoints inside COMMIT stay).
        self.wal_dirty = False
        self._logs_ready = False
        self._prepared = False

    def start_loop(self) -> str | None:
        """None once the loop runs, else why it cannot (database, logs) and what to do."""
        if self.loop is not None or self._broken is not None:
            return None
        try:
            _exit_on_sigterm()
            self._setup_logs()
            from pathlib import Path  # not before hello: pathlib imports re, urllib and more

            self.loop = _start_loop(Path(self._home), self._settings, self._emit)
        except Exception as exc:  # keep answering: a dead host shows the user nothing useful
            return _cannot_start(exc)
        return None

    def handle(self, batch: list[Any]) -> list[dict[str, Any]]:
        if self._broken is not None:
            return [self._broken.reply(m) for m in batch]
        # The loop starts after the first answers (``after_reply``): its imports (httpx, the
        # submitter) need not delay the popup's first status. A tick reports on the loop: first.
        _exit_on_sigterm()  # before the first answer: a browser may close us right after it
        why = self.start_loop() if any(_is_type(m, "tick") for m in batch) else None
        if why is None and self.service is None:
            try:
                self._setup_logs()
                from pathlib import Path

                from .service import Service

                self.service = Service.open(
                    Path(self._home), self._settings, emit=self._emit, loop=self.loop
                )
            except Exception as exc:
                why = _cannot_start(exc)
        if self.service is None:
            return [error(request_id(m), "storage_error", str(why)) for m in batch]
        self.wal_dirty = IDLE_CHECKPOINTS
        return self.service.handle_batch(batch)

    def _setup_logs(self) -> None:
        if not self._logs_ready:
            from . import logs, paths

            logs.setup(paths.log_dir(), self._settings)
            self._logs_ready = True

    def prepare(self) -> None:
        """Logs, and the database created or migrated; a failure is left to the request."""
        if self._broken is not None or self._prepared:
            return
        try:
            self._setup_logs()
            from pathlib import Path

            from . import paths, store

            store.connect(paths.database_path(Path(self._home)), self._settings).close()
            self._prepared = True
        except Exception as exc:  # the request gets the same failure, said properly
            print(f"flattr-host: cannot prepare: {exc!r}", file=sys.stderr)

    def after_reply(self) -> None:
        """Start the loop once requests were answered; a failed start is retried next time."""
        if self.loop is None and self.service is not None and self.start_loop() is None:
            self.service.loop = self.loop

    def checkpoint(self) -> None:
        if self.service is not None:
            self.service.checkpoint()
        self.wal_dirty = False

    def close(self) -> None:
        if self.service is not None:
            self.service.close()
        if self.loop is not None:
            self.loop.stop()


def _self_heal(home: str | os.PathLike[str], settings: Settings) -> list[str]:
    """Stdlib only and never raises: it runs before ``hello`` is answered."""
    if not os.path.exists(
        os.path.join(home, RECEIPT_FILE)
    ):  # never installed here: nothing to heal, import nothing
        return []
    heal_here = os.name != "nt"  # a note cannot tell whether registry keys changed
    try:
        from .install import healthy

        if heal_here and healthy.unchanged(home, settings.extension_ids):
            return []  # nothing it looked at last time has changed: import nothing either
        from pathlib import Path

        from .install import selfheal

        watched: list[str] = []
        repairs = selfheal.heal(Path(home), settings, watched=watched)
        if heal_here and not repairs:
            healthy.save(home, watched, settings.extension_ids)
        return repairs
    except Exception as exc:
        print(f"flattr-host: self-healing skipped: {exc}", file=sys.stderr)
        return []


def _decode(payload: bytes) -> Any:
    try:
        return framing.decode(payload)
    except framing.FrameError as exc:
        # A bad payload gets its own error reply, in order, and the host stays up.
        return exc


def _is_hello(message: Any) -> bool:
    return _is_type(message, "hello")


def _is_type(message: Any, kind: str) -> bool:
    return isinstance(message, dict) and message.get("type") == kind


def _send_all(writer: FrameWriter, replies: list[dict[str, Any]]) -> None:
    for reply in replies:
        writer.send(reply)


def _start_loop(
    home: Path, settings: Settings, emit: Callable[[dict[str, Any]], None]
) -> SubmitLoop:
    """Logs, the database (created or migrated) and the background submission loop; raises when
    any of them cannot be had."""
    from . import logs, paths, store
    from .replies import event
    from .scheduler import SubmitLoop

    db = paths.database_path(home)
    store.connect(db, settings).close()  # create or migrate once, before the thread starts
    loop = SubmitLoop(db, settings, emit_event=lambda name, data: emit(event(name, data)))
    loop.start()
    logs.log.info("host started (pid %s, database %s)", os.getpid(), db)
    return loop


def _cannot_start(exc: Exception) -> str:
    print(f"flattr-host: cannot start: {exc!r}", file=sys.stderr)
    return f"{exc}; {SEE_WHY}"


class _Refusal:
    """What every request is answered while the host cannot work at all (unusable settings)."""

    def __init__(self, code: str, why: str, command: str | None = None) -> None:
        self._code, self._why, self._command = code, why, command

    def reply(self, message: Any) -> dict[str, Any]:
        return error(request_id(message), self._code, self._why, self._command)


def _exit_on_sigterm() -> None:
    """Firefox sends SIGTERM 3 s after closing stdin: leave as cleanly as for end of input.

    Installed after ``hello``: ``signal`` imports ``enum``, which the browser need not wait for.
    """
    import signal

    signal.signal(signal.SIGTERM, _raise_exit)


def _raise_exit(signum: int, frame: Any) -> None:
    raise SystemExit(0)
