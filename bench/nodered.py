"""Node-RED for the side-by-side benchmark: a cached npm install and the same flow as ours.

The flow: ``http in`` (POST /event) → ``http response`` 200 right away (Node-RED's usual
pattern) and, in parallel, ``switch`` (msg.payload.data.n > -1) → ``function`` building the
same Roistat-shaped webhook payload and Standard Webhooks ids as our ``action.webhook`` →
``http request`` POST to the receiver. Nothing is stored (Node-RED keeps it all in memory).
Node-RED is installed once per major version into ``.cache/node-red-<major>/`` (gitignored; the
interop test uses the same folder) and reused.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from bench.common import CACHE, Procs, free_port, wait_until

SPEC = os.environ.get("BENCH_NODE_RED", "node-red@4")
INSTALL = CACHE / f"node-red-{SPEC.split('@', 1)[1]}"

SETTINGS = """module.exports = {{
    uiHost: "127.0.0.1",
    uiPort: {port},
    userDir: {user_dir},
    flowFile: "flows.json",
    credentialSecret: false,
    editorTheme: {{ tours: false, projects: {{ enabled: false }} }},
    diagnostics: {{ enabled: false }},
    telemetry: {{ enabled: false }},
    functionExternalModules: false,
    logging: {{ console: {{ level: "warn", metrics: false, audit: false }} }}
}};
"""

BUILD = """
const ev = msg.payload || {};
const nulls = (keys) => Object.fromEntries(keys.map((k) => [k, null]));
msg.payload = {
    event_type: "custom_event",
    script_id: "bench",
    script_name: "Bench",
    visit: nulls(["id", "ip", "marker", "city", "country", "referrer", "domain", "landing_page",
                  "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
                  "roistat_param_1", "roistat_param_2", "roistat_param_3", "roistat_param_4",
                  "roistat_param_5"]),
    order: nulls(["id", "price", "cost", "status"]),
    client: nulls(["external_id", "name", "company", "phone", "email"]),
    event: { id: String(ev.id), meta_id: ev.name, data: ev.data },
};
msg.headers = {
    "content-type": "application/json",
    "webhook-id": "msg_" + ev.id,
    "webhook-timestamp": String(Math.floor(Date.now() / 1000)),
};
return msg;
"""


def flow(receiver_url: str, keepalive: bool = False) -> list[dict]:
    tab = "bench-tab"
    return [
        {"id": tab, "type": "tab", "label": "bench", "disabled": False, "info": ""},
        {
            "id": "in",
            "type": "http in",
            "z": tab,
            "name": "POST /event",
            "url": "/event",
            "method": "post",
            "upload": False,
            "swaggerDoc": "",
            "x": 100,
            "y": 100,
            "wires": [["respond", "condition"]],
        },
        {
            "id": "respond",
            "type": "http response",
            "z": tab,
            "name": "200 now",
            "statusCode": "200",
            "headers": {},
            "x": 300,
            "y": 60,
            "wires": [],
        },
        {
            "id": "condition",
            "type": "switch",
            "z": tab,
            "name": "n > -1",
            "property": "payload.data.n",
            "propertyType": "msg",
            "rules": [{"t": "gt", "v": "-1", "vt": "num"}],
            "checkall": "true",
            "repair": False,
            "outputs": 1,
            "x": 300,
            "y": 140,
            "wires": [["build"]],
        },
        {
            "id": "build",
            "type": "function",
            "z": tab,
            "name": "webhook payload",
            "func": BUILD,
            "outputs": 1,
            "timeout": 0,
            "noerr": 0,
            "initialize": "",
            "finalize": "",
            "libs": [],
            "x": 480,
            "y": 140,
            "wires": [["post"]],
        },
        {
            "id": "post",
            "type": "http request",
            "z": tab,
            "name": "POST receiver",
            "method": "POST",
            "ret": "txt",
            "paytoqs": "ignore",
            "url": receiver_url,
            "tls": "",
            "persist": keepalive,
            "proxy": "",
            "insecureHTTPParser": False,
            "authType": "",
            "senderr": False,
            "headers": [],
            "x": 660,
            "y": 140,
            "wires": [[]],
        },
        {
            "id": "ping",
            "type": "http in",
            "z": tab,
            "name": "GET /ping",
            "url": "/ping",
            "method": "get",
            "upload": False,
            "swaggerDoc": "",
            "x": 100,
            "y": 220,
            "wires": [["pong"]],
        },
        {
            "id": "pong",
            "type": "http response",
            "z": tab,
            "name": "",
            "statusCode": "200",
            "headers": {},
            "x": 300,
            "y": 220,
            "wires": [],
        },
    ]


def install() -> tuple[Path, str]:
    """The cached install (installing it first when absent) and its exact version."""
    red = INSTALL / "node_modules" / "node-red" / "red.js"
    if not red.is_file():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError(
                "npm is not on PATH: Node.js 20+ with npm is needed for the Node-RED comparison"
            )
        INSTALL.parent.mkdir(parents=True, exist_ok=True)
        staging = INSTALL.with_name(f"{INSTALL.name}.tmp-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        started = time.monotonic()
        result = subprocess.run(
            [npm, "install", "--prefix", str(staging), SPEC, "--no-audit", "--no-fund", "--loglevel=error"],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if result.returncode != 0 or not (staging / "node_modules" / "node-red" / "red.js").is_file():
            shutil.rmtree(staging, ignore_errors=True)
            raise RuntimeError(
                f"npm install {SPEC} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        (staging / "installed.json").write_text(
            json.dumps({"spec": SPEC, "seconds": round(time.monotonic() - started, 1)}) + "\n"
        )
        try:
            staging.rename(INSTALL)
        except OSError:  # installed meanwhile by someone else
            shutil.rmtree(staging, ignore_errors=True)
    version = json.loads((INSTALL / "node_modules" / "node-red" / "package.json").read_text())["version"]
    return INSTALL, version


def start(procs: Procs, receiver_url: str, user_dir: Path, keepalive: bool = False) -> tuple[str, int]:
    """Start Node-RED with the bench flow; returns (base URL, pid) once /ping answers."""
    import requests

    install_dir, _version = install()
    shutil.rmtree(user_dir, ignore_errors=True)
    user_dir.mkdir(parents=True)
    port = free_port()
    (user_dir / "flows.json").write_text(json.dumps(flow(receiver_url, keepalive), indent=1))
    settings = user_dir / "settings.js"
    settings.write_text(SETTINGS.format(port=port, user_dir=json.dumps(str(user_dir))))
    node = shutil.which("node") or "node"
    child = procs.start(
        "node-red",
        [
            node,
            str(install_dir / "node_modules" / "node-red" / "red.js"),
            "--settings",
            str(settings),
            "--userDir",
            str(user_dir),
        ],
        env={"NODE_RED_ENABLE_PROJECTS": "false"},
        cwd=user_dir,
    )
    base = f"http://127.0.0.1:{port}"
    wait_until(
        lambda: requests.get(base + "/ping", timeout=2).status_code == 200,
        90,
        "Node-RED",
        alive=procs.check_alive,
    )
    return base, child.pid
