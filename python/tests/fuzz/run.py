"""The API fuzz run: `connectors serve` (embedded defaults, a fresh data directory) and
Schemathesis against its `/openapi.json`, every check, positive and negative data, then the
stateful phase along the document's links. Each Schemathesis run gets an organization and
application of its own, made with the `connectors` CLI before the server starts.

    python run.py SERVER_BIN

Started by tests/test_schemathesis.py inside a network namespace of its own (only loopback),
so nothing the generated requests make the server do (webhooks to generated URLs, provider calls
for generated credentials) leaves the machine. Exit status 0 when every run passed.

Env: FUZZ_MAX_EXAMPLES (default 8; the stateful run takes six times as many scenarios), FUZZ_SEED (default random; printed), FUZZ_REPORT_DIR.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Each run: (name, Schemathesis phases, examples per operation / stateful scenarios as a
# multiple of FUZZ_MAX_EXAMPLES). Every run has its own organization.
RUNS = [
    ("stateless", "examples,coverage,fuzzing", 1),
    ("stateful", "stateful", 6),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cli_json(server_bin: str, *args: str) -> dict[str, str]:
    out = subprocess.run([server_bin, *args], check=True, capture_output=True, text=True).stdout
    parsed: dict[str, str] = json.loads(out.strip().splitlines()[-1])
    return parsed


def new_application(server_bin: str, data_dir: str, name: str) -> dict[str, str]:
    """A fresh organization and its (admin) application."""
    cli_json(server_bin, "orgs", "create", "--data-dir", data_dir, name)
    return cli_json(server_bin, "apps", "create", "--data-dir", data_dir, "--org", name)


def wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"connectors serve exited:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    sys.exit("connectors serve did not become healthy in 60 s")


def main() -> int:
    server_bin = sys.argv[1]
    max_examples = os.environ.get("FUZZ_MAX_EXAMPLES", "8")
    seed = os.environ.get("FUZZ_SEED") or str(random.getrandbits(64))
    with tempfile.TemporaryDirectory(prefix="connectors-fuzz-") as tmp:
        data_dir = os.path.join(tmp, "data")
        os.mkdir(data_dir)
        report_dir = os.environ.get("FUZZ_REPORT_DIR") or os.path.join(tmp, "report")
        apps = {name: new_application(server_bin, data_dir, f"fuzz-{name}") for name, _, _ in RUNS}
        metrics_token = secrets.token_urlsafe(24)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = Path(tmp) / "server.log"
        with open(log, "wb") as log_file:
            proc = subprocess.Popen(
                [server_bin, "serve", "--bind", f"127.0.0.1:{port}", "--data-dir", data_dir,
                 "--metrics-token", metrics_token],
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
            try:
                wait_healthy(url, proc, log)
                failed = []
                for name, phases, scale in RUNS:
                    app = apps[name]
                    env = dict(
                        os.environ,
                        SCHEMATHESIS_HOOKS="hooks",
                        PYTHONPATH=str(HERE),
                        FUZZ_BASE_URL=url,
                        FUZZ_CLIENT_ID=app["client_id"],
                        FUZZ_CLIENT_SECRET=app["client_secret"],
                        FUZZ_ORG=app["organization_id"],
                        FUZZ_METRICS_TOKEN=metrics_token,
                    )
                    cmd = [
                        sys.executable, "-m", "schemathesis.cli",
                        "--config-file", str(HERE / "schemathesis.toml"),
                        "--no-color",
                        "run", f"{url}/openapi.json",
                        "--phases", phases,
                        "--checks", "all",
                        "--mode", "all",
                        "--max-examples", str(int(max_examples) * scale),
                        "--seed", seed,
                        "--workers", "1",
                        "--request-timeout", "30",
                        "--report", "junit",
                        "--report-dir", os.path.join(report_dir, name),
                    ]
                    print(f"=== schemathesis {name} run (organization {app['organization_id']}, seed {seed})", flush=True)
                    status = subprocess.run(cmd, env=env, cwd=tmp).returncode
                    if status != 0:
                        failed.append(name)
                if proc.poll() is not None:
                    print(f"connectors serve died during the run:\n{log.read_text()}")
                    return 1
                if failed:
                    tail = log.read_text().splitlines()[-40:]
                    print("server log (last 40 lines):\n" + "\n".join(tail))
                    print(f"schemathesis runs failed: {', '.join(failed)} (seed {seed})")
                    return 1
                return 0
            finally:
                proc.terminate()
                proc.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
