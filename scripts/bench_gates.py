#!/usr/bin/env python3
"""Benchmark: the gate detection lag and the unplanned-failover RTO, measured, not asserted.

For each run: a fresh simulator (`efs-dr sim serve`), a pair with data, `efs-dr init --yes`, A's
region down, `efs-dr failover --unplanned --yes --output json`. The simulator deletes B's side
exactly `delete_seconds` of simulated time after the DeleteReplicationConfiguration call, so

    detection lag = (gate_passed.at - sdk_change.at) - delete_seconds / time_scale     (wall)

is the time between the simulator's state change and the gate passing. Prints the figures.
Run from the project root after `make setup`:  source .tools/env.sh && python3 scripts/bench_gates.py
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from datetime import datetime

import boto3
from botocore.config import Config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "target", "debug", "efs-dr")
DELETE_SECONDS = 480.0


def ts(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def one_run(scale, poll):
    sim = subprocess.Popen(
        [BINARY, "sim", "serve", "--listen", "127.0.0.1:0", "--time-scale", str(scale), "--output", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        url = json.loads(sim.stdout.readline())["endpoint"]
        env = dict(os.environ, AWS_ENDPOINT_URL=url, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                   AWS_EC2_METADATA_DISABLED="true", AWS_CONFIG_FILE="/nonexistent",
                   AWS_SHARED_CREDENTIALS_FILE="/nonexistent", EFS_DR_PROVIDER_MAX_POLL="100ms", RUST_LOG="error")
        ids = {}
        for region, role in (("us-east-1", "a"), ("us-west-2", "b")):
            efs = boto3.client("efs", region_name=region, endpoint_url=url, aws_access_key_id="x",
                               aws_secret_access_key="x", config=Config(retries={"max_attempts": 3}))
            fs = efs.create_file_system(CreationToken=f"bench-{role}")["FileSystemId"]
            while efs.describe_file_systems(FileSystemId=fs)["FileSystems"][0]["LifeCycleState"] != "available":
                pass
            ids[role] = fs
        req = urllib.request.Request(f"{url}/_sim/file-systems/{ids['a']}/files/data.txt", data=b"x", method="PUT")
        urllib.request.urlopen(req).read()
        work = tempfile.mkdtemp(prefix="efs-dr-bench-")
        config = os.path.join(work, "efs-dr.hcl")
        with open(config, "w") as f:
            f.write(f'''terraform {{
  dir = "terraform"
}}
pair "bench" {{
  primary {{
    region         = "us-east-1"
    file_system_id = "{ids['a']}"
  }}
  secondary {{
    region         = "us-west-2"
    file_system_id = "{ids['b']}"
  }}
}}
gates {{
  poll_interval       = "{poll}"
  replication_timeout = "2h"
}}
''')
        base = [BINARY, "--config", config, "--output", "json"]
        subprocess.run(base + ["init", "--yes"], env=env, check=True, stdout=subprocess.DEVNULL)
        req = urllib.request.Request(f"{url}/_sim/regions/us-east-1/outage", data=b"", method="POST")
        urllib.request.urlopen(req).read()
        out = subprocess.run(base + ["failover", "--unplanned", "--yes"], env=env, check=True,
                             stdout=subprocess.PIPE, text=True).stdout
        events = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
        sdk = next(e for e in events if e["event"] == "sdk_change")
        passed = next(e for e in events if e["event"] == "gate_passed" and e.get("step") == "delete_forward_from_b")
        polls = sum(1 for e in events if e["event"] == "gate_polled" and e.get("step") == "delete_forward_from_b")
        started = next(e for e in events if e["event"] == "run_started")
        lag = (ts(passed["at"]) - ts(sdk["at"])) - DELETE_SECONDS / scale
        report = json.load(open(next(e["report"] for e in events if e.get("report")).replace(".md", ".json")))
        rto = report["pairs"][0]["rto"]
        return {
            "lag_ms": lag * 1000,
            "polls": polls,
            "rto_aws_s": rto["aws_seconds"],
            "rto_wall_s": rto["wall_seconds"],
            "start_to_delete_ms": (ts(sdk["at"]) - ts(started["at"])) * 1000,
        }
    finally:
        sim.terminate()
        sim.wait()


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    for scale, poll in ((600, "50ms"), (60, "50ms"), (60, "500ms")):
        results = [one_run(scale, poll) for _ in range(runs)]
        lags = [r["lag_ms"] for r in results]
        print(f"time scale {scale}x, poll_interval {poll}, {runs} runs:")
        print(f"  gate detection lag (state change -> gate passed, wall): "
              f"median {statistics.median(lags):.0f} ms, max {max(lags):.0f} ms")
        print(f"  polls during the 8-minute deletion: median {statistics.median(r['polls'] for r in results):.0f}")
        print(f"  start -> SDK delete (wall): median {statistics.median(r['start_to_delete_ms'] for r in results):.0f} ms")
        print(f"  RTO start -> B writable: median {statistics.median(r['rto_aws_s'] for r in results):.0f} s AWS time "
              f"(deletion 480 s), {statistics.median(r['rto_wall_s'] for r in results):.2f} s wall")


if __name__ == "__main__":
    main()
