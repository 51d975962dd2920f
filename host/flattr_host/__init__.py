"""Flattr Companion's native-messaging host.

Kept import-free on purpose: the browser waits for the reply to ``hello``, so nothing heavy may be
imported before it is sent (see ``native.py``).
"""

__version__ = "0.1.0"

# Bumped when a message changes incompatibly; the extension sends the one it speaks in ``hello``.
PROTOCOL_VERSION = 1


class HostError(Exception):
    """What the host answers with an error reply ``{code, message, command}``: ``code`` is one of
    ``protocol.vocabulary.ErrorCode``, ``command`` the exact command that fixes it, if there is
    one. Defined here, without imports, for the code that answers before anything heavy is
    imported."""

    def __init__(self, code: str, message: str, command: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.command = code, message, command
