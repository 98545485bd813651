"""The README's «first scenario in five minutes», run as written: its commands, bodies and answers."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import requests

from tests.conftest import ROOT, free_port, wait_for

SECTION = "## Your first scenario in five minutes"


def scenario_section() -> str:
    text = (ROOT / "README.md").read_text()
    assert SECTION in text, "the README lost its first-scenario section"
    return text.split(SECTION, 1)[1].split("\n## ", 1)[0]


def blocks(lang: str) -> list[str]:
    return [
        body
        for kind, body in re.findall(r"```(\w+)\n(.*?)```", scenario_section(), re.DOTALL)
        if kind == lang
    ]


def curl_body(block: str) -> dict:
    """The JSON a ``curl … -d '<json>'`` block sends."""
    return json.loads(re.search(r"-d '(.*?)'", block, re.DOTALL).group(1))


def slack_node() -> dict:
    """The Slack node the README offers in place of the webhook."""
    return json.loads(re.search(r'`(\{"id": "slack".*?\})`', scenario_section(), re.DOTALL).group(1))


def healthy_within(check, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return False


def test_readme_flow_and_order_are_accepted_by_the_api(client):
    flow_block, order_block = blocks("bash")[2:4]
    flow = curl_body(flow_block)
    created = client.post("/api/v1/flows", json=flow)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["enabled"] is True

    slack = {
        **flow,
        "name": "Крупный заказ → Slack",
        "nodes": [*flow["nodes"][:2], slack_node()],
        "edges": [*flow["edges"][:1], {"from": "big", "to": "slack"}],
    }
    assert client.post("/api/v1/flows", json=slack).status_code == 201

    broken = json.loads(json.dumps(flow))
    del broken["nodes"][1]["params"]["value"]
    refused = client.post("/api/v1/flows", json=broken)
    assert refused.status_code == 422
    assert "/nodes/1/params/value" in [e["path"] for e in refused.get_json()["errors"]]

    answer = client.put("/api/v1/orders/1001", json=curl_body(order_block))
    assert answer.status_code == 202
    assert answer.get_json() == json.loads(blocks("json")[0])


@pytest.mark.slow
def test_readme_first_scenario_runs_as_written(tmp_path):
    start, receiver_cmd, flow_block, order_block, runs_block = blocks("bash")
    env_assignments = start.split("bash scripts/run")[0].split()
    assert start.strip().endswith("bash scripts/run")
    assert receiver_cmd.split("#")[0].strip() == "python3 examples/receiver.py"

    port, receiver_port = free_port(), free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL") and not k.startswith("AUTOMATION_")
    }
    env.update(dict(a.split("=", 1) for a in env_assignments))
    env.update({"PORT": str(port), "AUTOMATION_DATA_DIR": str(tmp_path / "data")})
    server_log = open(tmp_path / "server.log", "w+b")
    receiver_log = open(tmp_path / "receiver.log", "w+b")
    # scripts/run is `.venv/bin/python server.py` once the virtualenv and the UI bundle exist
    server = subprocess.Popen(
        [sys.executable, "server.py"],
        cwd=ROOT,
        env=env,
        stdout=server_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    receiver = subprocess.Popen(
        [sys.executable, "examples/receiver.py", str(receiver_port)],
        cwd=ROOT,
        stdout=receiver_log,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"

        def healthy():
            try:
                return requests.get(base + "/api/v1/health", timeout=2).json().get("workers", 0) >= 2
            except (requests.RequestException, ValueError):
                return False

        started = healthy_within(healthy, 60)

        def printed_token():  # printed once the API answers, by a thread: maybe just after our health
            server_log.seek(0)
            return re.search(r"/\?token=(\S+)", server_log.read().decode(errors="replace"))

        server_log.seek(0)
        printed = server_log.read().decode(errors="replace")
        assert started, f"the product did not start as scripts/run does in 60 s:\n{printed[-3000:]}"
        token = wait_for(printed_token, timeout=10, message="the URL with the login token").group(1)

        def shell(block: str) -> str:
            """Run README lines in bash, with this test's port, token and receiver port."""
            script = flow_block.split("\n\n")[0] + "\n" + block  # the B= and T= lines
            script = script.replace("http://127.0.0.1:8080/api/v1", f"{base}/api/v1")
            script = re.sub(r"(?m)^T=.*$", f"T={token}", script)
            script = script.replace("127.0.0.1:9000", f"127.0.0.1:{receiver_port}")
            done = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", script],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            return done.stdout

        flow = json.loads(shell(flow_block))
        assert flow["name"] == "Крупный заказ → webhook" and flow["enabled"] is True

        assert json.loads(shell(order_block)) == json.loads(blocks("json")[0])

        def delivered():
            receiver_log.seek(0)
            text = receiver_log.read().decode()
            return text if "POST /big-order" in text and text.rstrip().endswith("}") else None

        printed = wait_for(
            delivered, timeout=30, interval=0.2, message="the webhook at the README's receiver"
        )
        payload = json.loads(printed[printed.index("{", printed.index("POST /big-order")) :])
        shown = blocks("text")[0]
        assert payload["event_type"] == "order_created"
        assert payload["script_id"] == flow["id"] and payload["script_name"] == flow["name"]
        for key in ("order", "client"):
            assert payload[key] == json.loads(re.search(rf'"{key}": (\{{.*?\}})', shown).group(1))
        assert set(payload["visit"]) >= {"id", "ip"}

        def finished():
            runs = json.loads(shell(runs_block))["runs"]
            return runs if runs and runs[0]["status"] not in ("queued", "running") else None

        runs = wait_for(finished, timeout=30, interval=0.5, message="the run in the history")
        expected = json.loads(blocks("json")[1])["runs"][0]
        run = runs[0]
        assert len(runs) == 1
        for key, value in expected.items():
            if key not in ("id", "steps"):
                assert run[key] == value, key
        assert len(run["steps"]) == len(expected["steps"])
        for step, shown_step in zip(run["steps"], expected["steps"], strict=True):
            for key, value in shown_step.items():
                if key == "output":
                    assert step["output"]["status"] == value["status"]
                    assert step["output"]["webhook_id"] == f"msg_{run['id']}-hook"
                else:
                    assert step[key] == value, (step["node_id"], key)
    finally:
        receiver.terminate()
        receiver.wait(timeout=10)
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
