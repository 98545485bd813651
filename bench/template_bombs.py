"""Template bombs: time and peak memory of one render each, in a fresh subprocess per bomb.

    python bench/template_bombs.py [--timeout 30]

Each bomb is rendered once through ``plugin.engine.templating.render`` (what a worker and a dry run
do) and checked at save time (``templating.check``). Peak memory is the growth of the process's
maximum RSS over its value after a warm-up render; a bomb still running at the timeout is killed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LITERAL = "a" * 490_000

BOMBS = {
    "wordwrap x20": "{% set x = 'a' * 524288 %}{{ [" + ", ".join(["x|wordwrap(1)|length"] * 20) + "] }}",
    "set block over a 490 KB literal": "{% set s %}{% for i in range(1000) %}"
    + LITERAL
    + "{% endfor %}{% endset %}{{ s|length }}",
    "macro over a 490 KB literal": "{% macro m() %}{% for i in range(1000) %}"
    + LITERAL
    + "{% endfor %}{% endmacro %}{{ m()|length }}",
    "80-deep parentheses": "{{ " + "(" * 80 + "1" + ")" * 80 + " }}",
    "list of 20 wordwraps": "{% set x = 'a' * 524288 %}{{ ["
    + ", ".join(["x|wordwrap(1)"] * 20)
    + "]|length }}",
    "center 10**9": "{{ 'x'|center(10**9) }}",
    "range 10**9": "{{ range(10**9)|length }}",
    "'%s'|format of 1 MB": "{% set x = 'a' * 1000000 %}{{ ('%s%s%s%s' * 100)|format(*([x] * 400))|length }}",
    "striptags of '<' x 1M": "{{ ('<' * 1000000)|striptags|length }}",
    "nested loops 1000^2": "{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}",
    "filter block": "{% filter upper %}{% for i in range(1000) %}"
    + "b" * 100_000
    + "{% endfor %}{% endfilter %}",
    "1 MB concatenated in a loop": "{% set x = 'я' * 1000000 %}{% for i in range(1000) %}{% set y = x ~ i %}{% endfor %}",
    "macro recursion fan-out": "{% macro d(n) %}{% if n > 0 %}{{ d(n-1) }}{{ d(n-1) }}{% endif %}{% endmacro %}{{ d(40) }}",
    "split into 1M parts x 20": "{% set x = 'a ' * 500000 %}{{ ["
    + ", ".join(["x.split()"] * 20)
    + "]|length }}",
    "upper of 1 MB x 60 in a list": "{% set x = 'я' * 1000000 %}{{ ["
    + ", ".join(["x.upper()"] * 60)
    + "]|length }}",
    "deep not-chain": "{{ " + "not " * 2000 + "1 }}",
    "long + chain": "{{ " + "+".join(["1"] * 3000) + " }}",
}

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from plugin.engine import templating
template = sys.stdin.read()
templating.render("{{ 1 + 1 }}{% for i in range(3) %}{{ i }}{% endfor %}", {})
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
try:
    problems = templating.check(template)
except BaseException as exc:
    problems = [f"check raised {type(exc).__name__}: {exc}"[:200]]
check_s = time.perf_counter() - started
started = time.perf_counter()
try:
    out = "rendered %d chars" % len(templating.render(template, {}))
except templating.TemplateError as exc:
    out = str(exc)[:200]
except BaseException as exc:
    out = f"raised {type(exc).__name__}: {exc}"[:200]
render_s = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"check_s": check_s, "problems": problems[:2], "render_s": render_s, "mb": (peak - base) / 1024, "out": out}))
"""


def measure(template: str, timeout: float) -> dict:
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(ROOT)],
            input=template,
            check=False,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"out": f"killed after {timeout:.0f} s"}
    if done.returncode:
        return {"out": f"exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}"}
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("names", nargs="*", help="bombs to run (default: all)")
    args = parser.parse_args()
    for name, template in BOMBS.items():
        if args.names and name not in args.names:
            continue
        r = measure(template, args.timeout)
        timing = (
            f"check {r['check_s']:.3f} s, render {r['render_s']:.3f} s, +{r['mb']:.0f} MB"
            if "mb" in r
            else ""
        )
        print(
            f"{name:34} {len(template):>7} chars  {timing:42} {r.get('problems', '')} {r['out']}", flush=True
        )


if __name__ == "__main__":
    main()
