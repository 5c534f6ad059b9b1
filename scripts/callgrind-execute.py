#!/usr/bin/env python3
"""Instruction counts of one `messages.get` execute through the server against the emulator's
for the same request (issue 27; docs/benchmarks.md, "Server hot path (issue 27)").

Starts the Gmail emulator (`connectors sandbox gmail --no-quotas --seed 50`) and the server
(`connectors serve --workers 1 --poll-interval-ms 0`, pointed at it) each under `valgrind --tool=callgrind`, sends
WARM executes, zeroes both counters (`callgrind_control -z`), sends N executes over one
keep-alive connection, dumps both (`callgrind_control -d`), then does the same with N requests
sent straight to the emulator. Prints instructions per request of each process and their
ratio; the dumps stay in OUT for `callgrind_annotate`.

    scripts/callgrind-execute.py [--bin target/release/connectors] [--n 500] [--out /tmp/cg]
                                 [--phases via,direct,mcp,mcp2026,send,policy_send,approval]

Phases beyond the default two (each counted on its own, after its own warm-up):
- mcp: the same message through MCP `tools/call` (`gmail_messages_get`), protocol 2025-11-25;
- mcp2026: the same call on protocol 2026-07-28 (client context in `_meta`, SEP-2243 headers);
- send: `messages.send` on a connector without a policy;
- policy_send: the same send on a connector with the agent bench's policy (allow-list,
  deny-list, hourly and daily limits);
- approval: the approval round (a held send, `POST /api/v1/approvals/{id}/approve`, the send
  again), per round.

Needs valgrind (`apt-get install -y valgrind`). Instruction counts are user space only (the
kernel's socket work is not in them) and do not depend on the machine's load.
"""

import argparse
import glob
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(port, proc, secs=120):
    start = time.time()
    while time.time() - start < secs:
        if proc.poll() is not None:
            sys.exit(f"process exited: {proc.args}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.3)
    sys.exit(f"port {port} did not open")


def callgrind(out, name, args, env=None):
    cmd = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}/{name}.%p",
        "--dump-instr=no",
        *args,
    ]
    return subprocess.Popen(
        cmd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=open(f"{out}/{name}.log", "w"),
        text=True,
    )


def control(flag, pid):
    subprocess.run(["callgrind_control", flag, str(pid)], check=True, capture_output=True)


def totals(out, name, pid):
    """Instructions in the dumps of `pid` made after the last zeroing (part numbers >= 1)."""
    best = {}
    for f in glob.glob(f"{out}/{name}.{pid}*"):
        with open(f) as fh:
            part, ir = None, None
            for line in fh:
                if line.startswith("part:"):
                    part = int(line.split()[1])
                elif line.startswith("summary:") or line.startswith("totals:"):
                    ir = int(line.split()[1])
            if part is not None and ir is not None:
                best[part] = (ir, f)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.environ.get("CONNECTORS_BIN", "target/release/connectors"))
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--warm", type=int, default=100)
    ap.add_argument("--out", default="/tmp/cg-execute")
    ap.add_argument("--format", default=None, help="params.format (full when absent)")
    ap.add_argument("--phases", default="via,direct",
                    help="comma-separated: via, direct, mcp, mcp2026, send, policy_send, approval")
    a = ap.parse_args()
    shutil.rmtree(a.out, ignore_errors=True)
    os.makedirs(a.out)
    data = tempfile.mkdtemp(prefix="cg-data-")
    # The value the server sets for itself (server/src/main.rs) unless the caller sets one.
    purge_delay = os.environ.get("MIMALLOC_PURGE_DELAY", "10")

    eport, sport = free_port(), free_port()
    emu = callgrind(a.out, "emulator", [a.bin, "sandbox", "gmail", "--no-quotas", "--seed", "50",
                                         "--bind", f"127.0.0.1:{eport}"],
                   dict(os.environ, MIMALLOC_PURGE_DELAY=purge_delay))
    wait_up(eport, emu)
    base = f"http://127.0.0.1:{eport}"

    def cli(*args):
        r = subprocess.run([a.bin, *args, "--data-dir", data], check=True, capture_output=True, text=True)
        return json.loads(r.stdout)

    org = cli("orgs", "create", "cg")["organization_id"]
    app = cli("apps", "create", "--org", org)
    # MIMALLOC_PURGE_DELAY set: the server would otherwise re-exec itself at start (out of valgrind).
    env = dict(os.environ, CONNECTORS_GMAIL_BASE_URL=base, RUST_LOG="warn", MIMALLOC_PURGE_DELAY=purge_delay)
    # Mailbox polling off: a poll landing in the window would count its own requests to the
    # emulator and its work in the server against the executes.
    srv = callgrind(a.out, "server", [a.bin, "serve", "--data-dir", data, "--workers", "1",
                                       "--poll-interval-ms", "0",
                                       "--bind", f"127.0.0.1:{sport}"], env)
    wait_up(sport, srv)

    def conn(port):
        return http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(c, method, path, body=None, headers=None):
        c.request(method, path, body=None if body is None else json.dumps(body), headers=headers or {})
        r = c.getresponse()
        payload = r.read()
        if not 200 <= r.status < 300:
            sys.exit(f"{method} {path}: {r.status} {payload[:300]!r}")
        return json.loads(payload)

    s = conn(sport)
    tok = call(s, "POST", "/api/v1/account/applications/token",
               {"client_id": app["client_id"], "client_secret": app["client_secret"]},
               {"Content-Type": "application/json"})["access_token"]
    h = {"Authorization": f"Bearer {tok}", "X-Organization-Id": org, "Content-Type": "application/json"}
    cid = call(s, "POST", "/api/v1/integrations/connectors",
               {"customer_name": "cg", "connector_type": "gmail",
                "credentials": {"access_token": "cg-token"}}, h)["id"]
    e = conn(eport)
    eh = {"Authorization": "Bearer cg-token"}
    mid = call(e, "GET", "/gmail/v1/users/me/messages?maxResults=1", headers=eh)["messages"][0]["id"]
    params = {"message_id": mid}
    fmt = ""
    if a.format:
        params["format"] = a.format
        fmt = a.format
    body = {"entity": "messages", "action": "get", "params": params}
    direct = f"/gmail/v1/users/me/messages/{mid}?format={fmt or 'full'}"

    phases = a.phases.split(",")
    execute = f"/api/v1/integrations/connectors/{cid}/execute"

    def connector(name, policy=None):
        c = call(s, "POST", "/api/v1/integrations/connectors",
                 {"customer_name": name, "connector_type": "gmail",
                  "credentials": {"access_token": "cg-token"}}, h)["id"]
        if policy is not None:
            call(s, "PUT", f"/api/v1/integrations/connectors/{c}/policy", {"policy": policy}, h)
        return f"/api/v1/integrations/connectors/{c}/execute"

    sends = [0]

    def send(path):
        sends[0] += 1
        b = {"entity": "messages", "action": "send",
             "params": {"to": ["Bob <bob@example.com>"], "subject": f"cg {sends[0]}",
                        "text": "A short note from the benchmark."}}
        return call(s, "POST", path, b, h)

    def approval_round(path):
        sends[0] += 1
        b = json.dumps({"entity": "messages", "action": "send",
                        "params": {"to": ["Bob <bob@example.com>"], "subject": f"cg {sends[0]}",
                                   "text": "A short note from the benchmark."}})
        s.request("POST", path, body=b, headers=h)
        r = s.getresponse()
        v = json.loads(r.read())
        aid = v["error"]["details"]["approval_id"]
        call(s, "POST", f"/api/v1/approvals/{aid}/approve", {}, h)
        s.request("POST", path, body=b, headers=h)
        r = s.getresponse()
        if r.status != 200:
            sys.exit(f"approved send: {r.status} {r.read()[:300]!r}")
        r.read()

    fns = {
        "via": lambda: call(s, "POST", execute, body, h),
        "direct": lambda: call(e, "GET", direct, headers=eh),
    }
    if "mcp" in phases:
        mh = dict(h, Accept="application/json, text/event-stream")
        mh["MCP-Protocol-Version"] = "2025-11-25"
        mpath = f"/mcp/connectors/{cid}"
        init = call(s, "POST", mpath, {"jsonrpc": "2.0", "id": 0, "method": "initialize",
                                       "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                                                  "clientInfo": {"name": "cg", "version": "1"}}}, mh)
        del init
        ids = [1]

        def mcp_call():
            ids[0] += 1
            r = call(s, "POST", mpath, {"jsonrpc": "2.0", "id": ids[0], "method": "tools/call",
                                        "params": {"name": "gmail_messages_get",
                                                   "arguments": {"message_id": mid}}}, mh)
            if r.get("result", {}).get("isError"):
                sys.exit(f"tools/call: {r}")
        fns["mcp"] = mcp_call
    if "mcp2026" in phases:
        # Protocol 2026-07-28: no handshake; the client context in `_meta` and the SEP-2243
        # headers on every request.
        nh = dict(h, Accept="application/json, text/event-stream")
        nh.update({"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call",
                   "Mcp-Name": "gmail_messages_get"})
        npath = f"/mcp/connectors/{cid}"
        meta = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientInfo": {"name": "cg", "version": "1"},
                "io.modelcontextprotocol/clientCapabilities": {}}
        nids = [1]

        def mcp2026_call():
            nids[0] += 1
            r = call(s, "POST", npath, {"jsonrpc": "2.0", "id": nids[0], "method": "tools/call",
                                        "params": {"name": "gmail_messages_get", "_meta": meta,
                                                   "arguments": {"message_id": mid}}}, nh)
            if "result" not in r or r["result"].get("isError"):
                sys.exit(f"tools/call (2026-07-28): {r}")
        fns["mcp2026"] = mcp2026_call
    if "send" in phases:
        plain = connector("cg-send")
        fns["send"] = lambda: send(plain)
    if "policy_send" in phases:
        guarded = connector("cg-policy", {"mode": "send", "allow_recipients": ["example.com"],
                                          "deny_recipients": ["rival.example"],
                                          "max_sends_per_hour": 1_000_000,
                                          "max_sends_per_day": 10_000_000})
        fns["policy_send"] = lambda: send(guarded)
    if "approval" in phases:
        approved = connector("cg-approval", {"require_approval": "all"})
        fns["approval"] = lambda: approval_round(approved)

    for _ in range(a.warm):
        call(s, "POST", execute, body, h)
        call(e, "GET", direct, headers=eh)
    time.sleep(0.5)
    results = {}
    for phase in phases:
        fn = fns[phase]
        if phase not in ("via", "direct"):
            for _ in range(a.warm):
                fn()
        control("-z", srv.pid)
        control("-z", emu.pid)
        for _ in range(a.n):
            fn()
        control("-d", srv.pid)
        control("-d", emu.pid)
        time.sleep(1)
        results[phase] = (max(totals(a.out, "server", srv.pid).items())[1],
                          max(totals(a.out, "emulator", emu.pid).items())[1])
    for p in (srv, emu):
        p.terminate()
    for p in (srv, emu):
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
    shutil.rmtree(data, ignore_errors=True)

    n = a.n
    out = {"n": n, "format": fmt or "full"}
    if "via" in results:
        (sv, sfile), (ev, efile) = results["via"]
        out.update({
            "server_instr_per_execute": sv // n,
            "emulator_instr_per_request_via_server": ev // n,
            "ratio_server_to_emulator": round(sv / ev, 2),
            "server_dump": sfile,
            "emulator_dump": efile,
        })
    if "direct" in results:
        (_, _), (ed, edfile) = results["direct"]
        out.update({"emulator_instr_per_request_direct": ed // n, "emulator_direct_dump": edfile})
    for phase in phases:
        if phase in ("via", "direct"):
            continue
        (sv, sfile), (ev, _) = results[phase]
        out[phase] = {"server_instr_per_call": sv // n, "emulator_instr_per_call": ev // n,
                      "server_dump": sfile}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
