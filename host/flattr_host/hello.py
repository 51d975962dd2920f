"""The ``hello`` exchange, stdlib only: it is answered before anything heavy is imported.

``HelloRequest`` and ``HelloResult`` (in ``protocol``) describe the same shapes for the JSON
Schema; a test checks that the two agree.
"""

from __future__ import annotations

from . import PROTOCOL_VERSION, HostError, __version__
from .upgrade import upgrade_command

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing before hello
if TYPE_CHECKING:
    from typing import Any

# What this host can do, so that an extension can degrade gracefully instead of guessing by version.
CAPABILITIES = (
    "attention",
    "attention_batch",
    "visits",
    "flattr_now",
    "page_status",
    "sites",
    "mode",
    "status",
    "history",
    "export",
    "tick",
    "events",
    "dashboard",
)


def hello_result(repairs: list[str] | None = None) -> dict[str, Any]:
    return {
        "protocol": PROTOCOL_VERSION,
        "host_version": __version__,
        "capabilities": list(CAPABILITIES),
        "repairs": repairs or [],
    }


def check_version(message: dict[str, Any]) -> HostError | None:
    """None when the extension's protocol version is one we speak, else the error to answer."""
    wanted = message.get("protocol", PROTOCOL_VERSION)
    if wanted == PROTOCOL_VERSION:
        return None
    if isinstance(wanted, int) and not isinstance(wanted, bool) and wanted > PROTOCOL_VERSION:
        command = upgrade_command()
        return HostError(
            "upgrade_required",
            f"the extension speaks protocol {wanted}, this host {PROTOCOL_VERSION}; "
            f"upgrade the host: {command}",
            command,
        )
    return HostError(
        "upgrade_required",
        f"the extension speaks protocol {wanted!r}, this host {PROTOCOL_VERSION}; "
        "update the extension from your browser's extension page",
    )
