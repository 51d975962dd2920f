"""The local Flattr server ("sim"): a real HTTP(S) server standing in for flattr.com and
api.flattr.com, with a control interface under /_sim/ for tests and demos.

Run it with `flattr-host sim` or `python -m flattr_sim`; drive it from Python with
SimProcess / SimControl.
"""

from .command import main
from .constants import DEFAULT_RATE_LIMIT, DEFAULT_USERNAME
from .harness import SimControl, SimProcess, SimStartupError, ssl_context_for

__all__ = [
    "DEFAULT_RATE_LIMIT",
    "DEFAULT_USERNAME",
    "SimControl",
    "SimProcess",
    "SimStartupError",
    "main",
    "ssl_context_for",
]
