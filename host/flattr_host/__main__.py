"""Entry point: native-messaging mode when a browser starts us, the CLI otherwise."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    from . import native

    # A browser passes an origin or a manifest path; Snap's portal may pass nothing at all, but
    # then stdin is a pipe, whereas a person typing `flattr-host` has a terminal.
    if native.looks_like_browser_launch(args) or (not args and not sys.stdin.isatty()):
        from . import paths

        return native.serve(args, home=paths.data_home_path())
    from . import cli

    return cli.main(args)


if __name__ == "__main__":
    sys.exit(main())
