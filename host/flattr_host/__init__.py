"""Flattr Companion's native-messaging host.

Kept import-free on purpose: the browser waits for the reply to ``hello``, so nothing heavy may be
imported before it is sent (see ``native.py``).
"""

__version__ = "0.1.0"

# Bumped when a message changes incompatibly; the extension sends the one it speaks in ``hello``.
PROTOCOL_VERSION = 1
