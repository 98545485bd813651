#!/usr/bin/env python3
"""Entry point: ``python server.py`` starts everything on the embedded default; --help lists the parts."""

from plugin.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
