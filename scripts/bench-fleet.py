#!/usr/bin/env python3
"""Fleet benchmark: init, planned failover and failback of 1, 10, 40 and 100 pairs against the
simulator (time scale 60) with real Terraform and the stand-in provider. Prints, per size and
operation: wall time, AWS time, the ratio to one pair, gate polls, and efs-dr's own overhead
per phase (wall time not spent in Terraform or waiting on AWS); and how long a failover's
hook phase takes when every pair has a serve_from_b hook. A benchmark, not a test: run
it with `make bench` (it needs `make setup`, and boto3 from `make python-deps`).
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import boto3
from botocore.config import Config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# AWS's deletion time, as the simulator is told to take it (`--replication-delete-delay`).
DELETION_S = 480
A, B = "us-east-1", "us-west-2"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_health(url):
    for _ in range(200):
        try:
            urllib.request.urlopen(url + "/_sim/health", timeout=1).read()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit("the simulator did not start")


def put_file(url, fs, path, data):
    req = urllib.request.Request(
        f"{url}/_sim/file-systems/{fs}/files/{path}", data=data, method="PUT"
    )
    urllib.request.urlopen(req, timeout=10).read()


def efs(url, region):
    return boto3.client(
        "efs",
        region_name=region,
        endpoint_url=url,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=Config(retries={"max_attempts": 10, "mode": "standard"}),
    )


def file_systems(url, region, n, tag):
    c = efs(url, region)
    ids = [
        c.create_file_system(CreationToken=f"{tag}-{i}")["FileSystemId"] for i in range(n)
    ]
    while True:
        states = {
            f["FileSystemId"]: f["LifeCycleState"]
            for f in c.describe_file_systems()["FileSystems"]
        }
        if all(states.get(i) == "available" for i in ids):
            return ids
        time.sleep(0.05)


def config(pairs, hooks=""):
    text = hooks + (
        'terraform {\n  dir = "terraform"\n  binary = "terraform"\n}\n\n'
        'gates {\n  poll_interval = "5s"\n  replication_timeout = "3h"\n'
        '  max_lag = "15m"\n  quiesce_window = "2m"\n}\n'
    )
    for name, a, b in pairs:
        text += (
            f'\npair "{name}" {{\n  primary {{\n    region = "{A}"\n    file_system_id = "{a}"\n  }}\n'
            f'  secondary {{\n    region = "{B}"\n    file_system_id = "{b}"\n  }}\n}}\n'
        )
    return text


def overheads(events):
    """Per phase: wall seconds not in Terraform and not waiting at the gate."""
    out = []
    started = {}
    tf_done = {}
    for e in events:
        key = (e.get("pair"), e.get("step"))
        kind = e.get("event")
        if kind == "phase_started":
            started[key] = e["elapsed_ms"]
        elif kind in ("applied", "plan_summary"):
            tf_done[key] = e["elapsed_ms"]
        elif kind == "gate_passed" and key in started:
            total = e["elapsed_ms"] - started[key]
            tf = tf_done.get(key, started[key]) - started[key]
            out.append(max(0, total - tf - e.get("waited_ms", 0)) / 1000.0)
    return out


def run(binary, cfg, args, env):
    t0 = time.monotonic()
    p = subprocess.run(
        [binary, "--config", cfg, "--output", "json", "-q", *args],
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.monotonic() - t0
    events = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
    if p.returncode != 0:
        sys.exit(f"efs-dr {' '.join(args)} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    aws = [e["aws_time"] for e in events if e.get("aws_time")]
    aws_s = 0.0
    if len(aws) >= 2:
        from datetime import datetime

        parse = lambda t: datetime.fromisoformat(t.replace("Z", "+00:00"))
        aws_s = (parse(aws[-1]) - parse(aws[0])).total_seconds()
    polls = len({(e.get("step"), e["elapsed_ms"]) for e in events if e.get("event") == "gate_polled"})
    # Requests one poll sends to AWS, for every pair at the gate together (the most of any poll).
    calls = max((e.get("sdk_calls", 0) for e in events if e.get("event") == "gate_polled"), default=0)
    rtos = [
        f.get("rto_aws_seconds")
        for e in events
        if e.get("event") == "finished"
        for f in e.get("figures", [])
        if f.get("rto_aws_seconds") is not None
    ]
    # B writable in AWS: each B's deletion request (its answer's AWS time) plus AWS's deletion
    # time, after the run's first AWS answer (where RTO starts). efs-dr's RTO adds the moment
    # its gate saw it.
    writable = None
    if aws:
        from datetime import datetime

        parse = lambda t: datetime.fromisoformat(t.replace("Z", "+00:00"))
        deletes = [
            parse(e["aws_time"])
            for e in events
            if e.get("event") == "sdk_change" and e.get("step") == "delete_forward_from_b"
        ]
        if deletes:
            writable = (max(deletes) - parse(aws[0])).total_seconds() + DELETION_S
    return wall, aws_s, polls, calls, overheads(events), max(rtos) if rtos else None, writable


def start_sim(binary, scale):
    """The simulator on a free port, answering; (process, url)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    sim = subprocess.Popen(
        [
            binary, "sim", "serve", "--listen", f"127.0.0.1:{port}", "--time-scale", str(scale),
            "--replication-delete-delay", f"{DELETION_S}s",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_health(url)
    except BaseException:
        sim.terminate()
        raise
    return sim, url


def bench(binary, size, scale, env_base):
    sim, url = start_sim(binary, scale)
    try:
        a = file_systems(url, A, size, "a")
        b = file_systems(url, B, size, "b")
        for fs in a:
            put_file(url, fs, "data.txt", b"on A")
        # Mount targets in two zones, as doctor expects of a real pair.
        for region, ids in ((A, a), (B, b)):
            c = efs(url, region)
            for fs in ids:
                for subnet in ("subnet-00000000", "subnet-00000001"):
                    c.create_mount_target(FileSystemId=fs, SubnetId=subnet)
        work = tempfile.mkdtemp(prefix=f"efs-dr-bench-{size}-")
        cfg = os.path.join(work, "efs-dr.hcl")
        with open(cfg, "w") as f:
            f.write(config([(f"p{i:03}", a[i], b[i]) for i in range(size)]))
        env = dict(env_base, AWS_ENDPOINT_URL=url)
        rows = {}
        for op, args in [
            ("init", ["init", "--yes"]),
            ("failover", ["failover", "--yes", "--writes-stopped"]),
            ("failback", ["failback", "--yes", "--writes-stopped"]),
        ]:
            if op == "failback":
                for fs in b:
                    put_file(url, fs, "on-b.txt", b"on B")
            rows[op] = run(binary, cfg, args, env)
        t0 = time.monotonic()
        subprocess.run(
            [binary, "--config", cfg, "-q", "--output", "json", "status"],
            env=env,
            capture_output=True,
        )
        rows["status"] = (time.monotonic() - t0, 0.0, 0, 0, [], None, None)
        # Readiness of every pair: read-only, one answer (exit 0 or 2 alike).
        t0 = time.monotonic()
        p = subprocess.run(
            [binary, "--config", cfg, "-q", "--output", "json", "doctor"],
            env=env,
            capture_output=True,
            text=True,
        )
        rows["doctor"] = (time.monotonic() - t0, 0.0, 0, 0, [], None, None)
        if p.returncode != 0:
            sys.exit(f"efs-dr doctor found the fleet not ready ({p.returncode}):\n{p.stdout[-3000:]}{p.stderr[-3000:]}")
        # A's region down: every B writable within AWS's deletion time (+ seconds).
        req = urllib.request.Request(f"{url}/_sim/regions/{A}/outage", data=b"", method="POST")
        urllib.request.urlopen(req, timeout=10).read()
        rows["unplanned failover"] = run(
            binary, cfg, ["failover", "--unplanned", "--yes"], env
        )
        return rows
    finally:
        sim.terminate()
        sim.wait()


HOOK_S = 2


def bench_hooks(binary, size, scale, env_base):
    """A failover whose serve_from_b hook takes HOOK_S wall seconds per pair: how long the
    fleet's hook phase takes (one after another it would be size x HOOK_S)."""
    sim, url = start_sim(binary, scale)
    try:
        a = file_systems(url, A, size, "a")
        b = file_systems(url, B, size, "b")
        work = tempfile.mkdtemp(prefix=f"efs-dr-bench-hooks-{size}-")
        cfg = os.path.join(work, "efs-dr.hcl")
        hooks = f'hooks {{\n  serve_from_b = "sleep {HOOK_S}"\n}}\n\n'
        with open(cfg, "w") as f:
            f.write(config([(f"p{i:03}", a[i], b[i]) for i in range(size)], hooks))
        env = dict(env_base, AWS_ENDPOINT_URL=url)
        run(binary, cfg, ["init", "--yes"], env)
        p = subprocess.run(
            [binary, "--config", cfg, "--output", "json", "-q", "failover", "--yes", "--writes-stopped"],
            env=env,
            capture_output=True,
            text=True,
        )
        if p.returncode != 0:
            sys.exit(f"efs-dr failover with hooks failed ({p.returncode}):\n{p.stderr[-3000:]}")
        events = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
        started = [
            e["elapsed_ms"]
            for e in events
            if e.get("event") == "phase_started" and e.get("step") == "serve_from_b"
        ]
        ran = [e["elapsed_ms"] for e in events if e.get("event") == "hook_ran"]
        if len(ran) != size:
            sys.exit(f"{len(ran)} hooks ran for {size} pairs")
        return (max(ran) - min(started)) / 1000.0
    finally:
        sim.terminate()
        sim.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="1,10,40,100")
    ap.add_argument("--time-scale", type=float, default=60.0)
    # What users run: a release build (`make bench` builds it), with the stand-in provider's
    # release build beside it.
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ap.add_argument("--bin", default=os.path.join(target, "release", "efs-dr"))
    args = ap.parse_args()
    env = dict(
        os.environ,
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE="/nonexistent",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
        TF_DISABLE_PLUGIN_TLS="1",
        EFS_DR_PROVIDER_MAX_POLL=os.environ.get("EFS_DR_PROVIDER_MAX_POLL", "100ms"),
        EFS_DR_PROVIDER_BIN=os.path.join(os.path.dirname(args.bin), "terraform-provider-aws"),
    )
    sizes = [int(s) for s in args.sizes.split(",")]
    results = {s: bench(args.bin, s, args.time_scale, env) for s in sizes}
    hooks = {s: bench_hooks(args.bin, s, args.time_scale, env) for s in sizes}
    base = results[sizes[0]]
    print(f"\nefs-dr fleet benchmark, simulator time scale {args.time_scale:g}x\n")
    print("| pairs | operation | wall (s) | AWS (s) | ratio to 1 pair (wall) | gate polls | SDK calls per gate poll | max overhead per phase (s) | RTO, slowest pair (AWS s) | B writable in AWS, slowest pair (AWS s) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for s in sizes:
        for op in ["init", "failover", "failback", "status", "doctor", "unplanned failover"]:
            wall, aws, polls, calls, over, rto, writable = results[s][op]
            ratio = wall / base[op][0] if base[op][0] else 0
            print(
                f"| {s} | {op} | {wall:.1f} | {aws:.0f} | {ratio:.2f} | {polls} | {calls} | "
                f"{max(over) if over else 0:.2f} | {'' if rto is None else f'{rto:.0f}'} | "
                f"{'' if writable is None else f'{writable:.0f}'} |"
            )
    print(f"\nA failover's serve_from_b hooks of {HOOK_S} s each (hooks.max_parallel 10):\n")
    print("| pairs | hook phase, wall (s) | one after another (s) |")
    print("|---|---|---|")
    for s in sizes:
        print(f"| {s} | {hooks[s]:.1f} | {s * HOOK_S} |")


if __name__ == "__main__":
    main()
