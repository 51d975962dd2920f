"""Host manifests: built from the templates in ``templates/`` (package data, shipped in the wheel)
as JSON, never by text substitution.

Stdlib only (self-healing rewrites manifests before ``hello``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ..settings import Settings

HOST_NAME = "org.flattr_companion.host"
CHROMIUM, FIREFOX = "chromium", "firefox"
FAMILIES = (CHROMIUM, FIREFOX)
NAME_PATTERN = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")
CHROMIUM_ID_PATTERN = re.compile(r"^[a-p]{32}$")
ORIGIN_PREFIX = "chrome-extension://"
# The list of allowed callers, per family.
ALLOW_FIELD = {CHROMIUM: "allowed_origins", FIREFOX: "allowed_extensions"}
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
REINSTALL_HINT = "reinstall flattr-companion (pipx install --force flattr-companion)"


def template(family: str) -> dict[str, Any]:
    """The template for ``family``. Raises ValueError when it is missing or damaged: the package
    itself is broken then, and only reinstalling it helps."""
    path = TEMPLATE_DIR / f"{family}.json"
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the template {path} ({exc}); {REINSTALL_HINT}") from exc
    if not isinstance(loaded, dict):
        raise ValueError(f"{path} must hold a JSON object; {REINSTALL_HINT}")
    return loaded


def extension_ids(settings: Settings) -> tuple[list[str], list[str]]:
    """(Chromium ids, Firefox add-on ids) allowed to call the host.

    ``Settings.extension_ids`` holds both kinds; Firefox add-on ids contain "@".
    """
    unique = list(dict.fromkeys(settings.extension_ids))
    return [i for i in unique if "@" not in i], [i for i in unique if "@" in i]


def origin(chromium_id: str) -> str:
    return f"{ORIGIN_PREFIX}{chromium_id}/"  # the trailing slash is required


def expected_allow_list(family: str, settings: Settings) -> list[str]:
    chromium, firefox = extension_ids(settings)
    return [origin(i) for i in chromium] if family == CHROMIUM else firefox


def build(family: str, path: str, settings: Settings) -> dict[str, Any]:
    """The manifest for ``family`` whose host is ``path`` (an absolute launcher)."""
    manifest = template(family)
    name = manifest.get("name")
    if name != HOST_NAME or not NAME_PATTERN.match(name):
        raise ValueError(f"the {family} template must be named {HOST_NAME!r}, not {name!r}")
    manifest["path"] = path
    manifest["type"] = "stdio"
    manifest[ALLOW_FIELD[family]] = expected_allow_list(family, settings)
    return manifest


def render(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def load(path: Path) -> dict[str, Any]:
    """A manifest from disk. Raises OSError (unreadable) or ValueError (not a JSON object)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data
