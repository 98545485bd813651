#!/usr/bin/env python3
"""Import the example scenarios (examples/scenarios/*.json) into a running server.

    python examples/import_scenarios.py --url http://127.0.0.1:8080 --token an_...

The URL and token default to $AUTOMATION_URL and $AUTOMATION_TOKEN. Every file is imported in one
request (all or nothing). A scenario whose name already exists on the server is skipped unless
--force is given, so running the script twice creates no duplicates. The examples carry the
placeholder "********" for their secrets, so they arrive disabled: fill the secrets in the UI and
enable them there.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
try:
    from plugin.client import ApiError, Client
except ImportError:  # run from a checkout without installing the package
    sys.path.insert(0, str(HERE.parent))
    from plugin.client import ApiError, Client


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url", default=os.environ.get("AUTOMATION_URL"), help="server URL ($AUTOMATION_URL)"
    )
    parser.add_argument(
        "--token", default=os.environ.get("AUTOMATION_TOKEN"), help="API token ($AUTOMATION_TOKEN)"
    )
    parser.add_argument("--dir", type=Path, default=HERE / "scenarios", help="folder of scenario JSON files")
    parser.add_argument(
        "--force", action="store_true", help="import even when a scenario of that name exists"
    )
    parser.add_argument("--dry-run", action="store_true", help="list what would be imported, change nothing")
    args = parser.parse_args(argv)
    if not args.url or not args.token:
        parser.error("--url and --token (or $AUTOMATION_URL and $AUTOMATION_TOKEN) are required")
    return args


def load_documents(folder: Path) -> list[tuple[Path, dict]]:
    files = sorted(folder.glob("*.json"))
    if not files:
        raise SystemExit(f"no *.json scenario files in {folder}")
    return [(path, json.loads(path.read_text(encoding="utf-8"))) for path in files]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    documents = load_documents(args.dir)
    todo: list[tuple[Path, dict]] = []
    with Client(args.url, args.token) as api:
        try:
            existing = {flow["name"] for flow in api.list_flows()}
            for path, doc in documents:
                if args.force or doc.get("name") not in existing:
                    todo.append((path, doc))
                else:
                    print(f"skip    {path.name}: «{doc.get('name')}» already exists")
            if args.dry_run or not todo:
                for path, doc in todo:
                    print(f"would import {path.name}: «{doc.get('name')}»")
                return 0
            # a name taken is skipped above (or wanted twice: --force); an id taken gets a new one
            flows = api.import_flows([doc for _, doc in todo], on_conflict="copy")
        except ApiError as exc:
            print(f"error: HTTP {exc.status}: {exc.detail}", file=sys.stderr)
            for error in exc.errors:
                print(
                    f"  {_locate(error.get('path', ''), todo)}: {error.get('message', '')}", file=sys.stderr
                )
            return 1
    for (path, _), flow in zip(todo, flows, strict=True):
        state = "enabled" if flow["enabled"] else "disabled"
        missing = f", fill in: {', '.join(flow['needs_secrets'])}" if flow.get("needs_secrets") else ""
        print(f"import  {path.name}: «{flow['name']}» → {flow['id']} ({state}{missing})")
    print(f"{len(flows)} scenario(s) imported into {args.url}")
    return 0


def _locate(pointer: str, todo: list[tuple[Path, dict]]) -> str:
    """``/flows/3/nodes/2/params/text`` → ``05_x.json /nodes/2/params/text``."""
    parts = pointer.split("/")
    if len(parts) > 2 and parts[1] == "flows" and parts[2].isdigit() and int(parts[2]) < len(todo):
        return f"{todo[int(parts[2])][0].name} /{'/'.join(parts[3:])}"
    return pointer or "/"


if __name__ == "__main__":
    raise SystemExit(main())
