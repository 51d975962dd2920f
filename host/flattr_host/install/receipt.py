"""The receipt: everything an install wrote, so that uninstall removes exactly that.

Kept next to the launcher (``<data folder>/install-receipt.json``). Stdlib only.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .fsutil import atomic_write

FILE_NAME = "install-receipt.json"
FORMAT = "flattr-companion-install-receipt"
VERSION = 1
LAUNCHER, MANIFEST, WRAPPER = "launcher", "manifest", "wrapper"


@dataclass
class FileEntry:
    path: str
    kind: str  # launcher | manifest | wrapper
    browsers: list[str] = field(default_factory=list)
    family: str | None = None  # manifests: chromium | firefox
    target: str | None = None  # manifests and wrappers: the program they start


@dataclass
class RegistryEntry:
    hive: str
    key: str
    value: str
    browsers: list[str] = field(default_factory=list)


@dataclass
class Receipt:
    scope: str
    launcher: str | None = None
    interpreter: str | None = None
    files: list[FileEntry] = field(default_factory=list)
    dirs: list[str] = field(default_factory=list)  # folders the install created
    registry: list[RegistryEntry] = field(default_factory=list)
    registry_created: list[list[str]] = field(default_factory=list)  # [hive, key] it created

    def add_file(self, entry: FileEntry) -> None:
        self.files = [f for f in self.files if f.path != entry.path] + [entry]

    def add_registry(self, entry: RegistryEntry) -> None:
        same = (entry.hive.upper(), entry.key.lower())
        self.registry = [r for r in self.registry if (r.hive.upper(), r.key.lower()) != same] + [
            entry
        ]

    def add_dirs(self, dirs: list[Path]) -> None:
        for folder in dirs:
            if str(folder) not in self.dirs:
                self.dirs.append(str(folder))

    def manifests(self) -> list[FileEntry]:
        return [f for f in self.files if f.kind == MANIFEST]

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, data: Any) -> Receipt:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError("not an install receipt")
        return cls(
            scope=str(data["scope"]),
            launcher=data.get("launcher"),
            interpreter=data.get("interpreter"),
            files=[FileEntry(**f) for f in data.get("files", [])],
            dirs=[str(d) for d in data.get("dirs", [])],
            registry=[RegistryEntry(**r) for r in data.get("registry", [])],
            registry_created=[[str(h), str(k)] for h, k in data.get("registry_created", [])],
        )


def path_in(folder: Path) -> Path:
    return folder / FILE_NAME


def load(path: Path) -> Receipt | None:
    """The receipt at ``path``; None when there is none. Raises ValueError when it is unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        return Receipt.from_json(json.loads(text))
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} is not a valid install receipt ({exc})") from exc


def save(receipt: Receipt, path: Path) -> None:
    atomic_write(path, (json.dumps(receipt.to_json(), indent=2) + "\n").encode("utf-8"))
