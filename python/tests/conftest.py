"""Helpers for running fbench with Python consumers. The fbench binary is $FBENCH_BIN, or the
repository's release or debug build."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


def fbench_bin():
    if os.environ.get("FBENCH_BIN"):
        return os.environ["FBENCH_BIN"]
    for profile in ("release", "debug"):
        candidate = REPO / "target" / profile / "fbench"
        if candidate.exists():
            return str(candidate)
    pytest.fail("no fbench binary: set FBENCH_BIN or build it (cargo build --release)")


def segments_of(pid):
    prefix = f"fbench-{pid}-"
    return [name for name in os.listdir("/dev/shm") if name.startswith(prefix)]


class Run:
    """One `fbench run --strategy shm` whose consumers run `script` (a Python file)."""

    def __init__(self, tmp_path, script, consumers=2, external=None, fmt="rgb24",
                 resolution="160x120", duration="600ms", extra_env=None):
        self.script = tmp_path / "consumer.py"
        self.script.write_text(script)
        self.out = tmp_path / "out"
        self.report = tmp_path / "run.json"
        cmd = f"{sys.executable} {self.script}"
        if external is not None:
            cmd = f"{external}:{cmd}"
        env = dict(os.environ, FBENCH_CALIBRATION="off", OUT_DIR=str(tmp_path))
        env.update(extra_env or {})
        process = subprocess.Popen(
            [fbench_bin(), "run", "--strategy", "shm", "--consumers", str(consumers),
             "--resolution", resolution, "--format", fmt, "--fps", "100",
             "--duration", duration, "--warmup", "100ms", "--quiet",
             "--consumer-cmd", cmd, "--out", str(self.out), "--json", str(self.report)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
        self.stdout, self.stderr = process.communicate(timeout=120)
        self.returncode = process.returncode
        self.pid = process.pid

    def result(self):
        assert self.returncode == 0, self.stderr
        return json.loads(self.report.read_text())["runs"][0]


@pytest.fixture
def run(tmp_path):
    return lambda script, **kw: Run(tmp_path, script, **kw)
