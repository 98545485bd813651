"""Node-RED runs examples/node-red/flow.json against our live server: form → condition → Slack.

Node-RED is installed from npm once per version into ``.cache/node-red-<major>/`` (gitignored) and
reused by later runs. A failed install fails the test with npm's output: the example is part of
the product and must keep working with the Node-RED users install today.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT, TOKEN, free_port, wait_for

NODE_RED_SPEC = "node-red@4"
CACHE = ROOT / ".cache" / "node-red-4"
FLOW = ROOT / "examples" / "node-red" / "flow.json"
SETTINGS = """module.exports = {{
    uiHost: "127.0.0.1",
    uiPort: {port},
    userDir: {user_dir},
    flowFile: "flows.json",
    credentialSecret: false,
    flowFilePretty: true,
    editorTheme: {{ tours: false, projects: {{ enabled: false }} }},
    diagnostics: {{ enabled: false }},
    telemetry: {{ enabled: false }},
    functionExternalModules: false,
    logging: {{ console: {{ level: "info", metrics: false, audit: false }} }}
}};
"""


def node_red_dir() -> Path:
    """The cached install, installing it first when absent; npm's output on failure."""
    red = CACHE / "node_modules" / "node-red" / "red.js"
    if red.is_file():
        return CACHE
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is not on PATH: Node.js 20+ with npm is needed to run the Node-RED example")
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    staging = CACHE.with_name(f"{CACHE.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    started = time.monotonic()
    result = subprocess.run(
        [
            npm,
            "install",
            "--prefix",
            str(staging),
            NODE_RED_SPEC,
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if result.returncode != 0 or not (staging / "node_modules" / "node-red" / "red.js").is_file():
        shutil.rmtree(staging, ignore_errors=True)
        pytest.fail(
            f"`npm install {NODE_RED_SPEC}` failed (exit {result.returncode}):\n"
            f"{result.stdout[-6000:]}\n{result.stderr[-6000:]}"
        )
    (staging / "installed.json").write_text(
        json.dumps({"spec": NODE_RED_SPEC, "seconds": round(time.monotonic() - started, 1)}) + "\n"
    )
    try:
        staging.rename(CACHE)
    except OSError:  # another run installed it meanwhile
        shutil.rmtree(staging, ignore_errors=True)
    return CACHE


class NodeRed:
    """A Node-RED process on 127.0.0.1 with the example flow and the given environment."""

    def __init__(self, install: Path, user_dir: Path, env: dict[str, str]):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        user_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(FLOW, user_dir / "flows.json")
        settings = user_dir / "settings.js"
        settings.write_text(SETTINGS.format(port=self.port, user_dir=json.dumps(str(user_dir))))
        self.log_path = user_dir / "node-red.log"
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [
                shutil.which("node") or "node",
                str(install / "node_modules" / "node-red" / "red.js"),
                "--settings",
                str(settings),
                "--userDir",
                str(user_dir),
            ],
            cwd=user_dir,
            env={**os.environ, **env, "NODE_RED_ENABLE_PROJECTS": "false"},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-8000:]

    def wait_started(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"Node-RED exited with {self.process.returncode}:\n{self.log()}")
            if "Started flows" in self.log():
                try:
                    requests.get(self.url + "/flows", timeout=2)
                    return
                except requests.ConnectionError:
                    pass
            time.sleep(0.2)
        pytest.fail(f"Node-RED did not start in {timeout} s:\n{self.log()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


class CallLog:
    """WSGI middleware recording ``(method, path, status)`` of every request our server answers."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app
        self.calls: list[tuple[str, str, int]] = []
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        def recording_start_response(status, headers, exc_info=None):
            with self._lock:
                self.calls.append((environ["REQUEST_METHOD"], environ["PATH_INFO"], int(status.split()[0])))
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, recording_start_response)


@pytest.fixture(scope="session")
def node_red_install() -> Path:
    return node_red_dir()


@pytest.fixture
def calls(app) -> CallLog:
    log = CallLog(app.wsgi_app)
    app.wsgi_app = log
    return log


@pytest.fixture
def node_red(node_red_install, calls, live, fake_slack, tmp_path):
    red = NodeRed(
        node_red_install,
        tmp_path / "node-red",
        {"AUTOMATION_URL": live.url, "AUTOMATION_TOKEN": TOKEN, "SLACK_WEBHOOK_URL": fake_slack.hook_url},
    )
    try:
        red.wait_started()
        yield red
    finally:
        red.stop()


FORM = {
    "name": "Анна Смирнова",
    "phone": "+7 916 123-45-67",
    "email": "anna@example.com",
    "page": "https://site.ru/promo/spring",
    "utm_source": "yandex",
    "utm_campaign": "spring_sale",
}
CONDITION = ("POST", "/api/v1/nodes/condition.visit_utm/execute", 200)
SLACK = ("POST", "/api/v1/nodes/action.slack/execute", 200)


@pytest.mark.slow
def test_node_red_flow_checks_the_utm_and_delivers_slack_through_our_nodes(
    node_red, calls, fake_slack, client
):
    response = requests.post(node_red.url + "/lead", data=FORM, timeout=30)

    assert response.status_code == 200, f"{response.text}\n{node_red.log()}"
    answer = response.json()
    assert answer["triggered"] is True
    assert answer["condition"] == {"result": True}
    assert answer["action"]["status"] == "succeeded", answer
    assert [c for c in calls.calls if c[1].startswith("/api/v1/")] == [CONDITION, SLACK]
    wait_for(lambda: fake_slack.messages, timeout=10, message="the Slack message")
    assert fake_slack.messages == [
        "Новая заявка с сайта (yandex / spring_sale): Анна Смирнова, +7 916 123-45-67, anna@example.com"
    ]
    runs = client.get("/api/v1/runs").get_json()["runs"]
    assert [(r["direct"], r["status"], r["id"]) for r in runs] == [
        (True, "succeeded", answer["action"]["run_id"])
    ]
    step = runs[0]["steps"][0]
    assert (step["type"], step["status"]) == ("action.slack", "succeeded")
    assert fake_slack.hook_url not in json.dumps(runs), "the webhook URL is a secret and must not be stored"


@pytest.mark.slow
def test_node_red_flow_stops_when_the_utm_does_not_match(node_red, calls, fake_slack):
    response = requests.post(node_red.url + "/lead", data={**FORM, "utm_source": "vk"}, timeout=30)

    assert response.status_code == 200, f"{response.text}\n{node_red.log()}"
    assert response.json() == {"triggered": False, "condition": {"result": False}}
    assert [c for c in calls.calls if c[1].startswith("/api/v1/")] == [CONDITION]
    time.sleep(0.3)
    assert fake_slack.messages == []
