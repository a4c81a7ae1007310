"""Failover and failback rehearsal on the simulator, with real Terraform and the stand-in provider.

Interim demo, until `efs-dr demo` (the orchestrator) lands: it runs the same phases by hand —
render variables, terraform plan/apply of the efs_replication module, then poll AWS until each
gate is true — and checks at the end that no data was lost and no file-system id changed.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

import boto3

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EFS_DR = os.path.join(ROOT, "target", "debug", "efs-dr")
A_REGION, B_REGION = "us-east-1", "us-west-2"


def log(msg):
    print(f"[demo] {msg}", file=sys.stderr, flush=True)


def main():
    sim = subprocess.Popen([EFS_DR, "sim", "serve", "--listen", "127.0.0.1:0", "--time-scale", "600"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = sim.stdout.readline().strip().rsplit(" ", 1)[-1]
        run(url)
    finally:
        sim.terminate()
        sim.wait(timeout=10)


def control(url, method, path, body=None):
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    with urllib.request.urlopen(urllib.request.Request(url + path, data=data, method=method)) as r:
        raw = r.read()
        return json.loads(raw) if raw else None


def sim_now(url):
    return control(url, "GET", "/_sim/clock")["now_ms"] / 1000.0


def until(what, check, timeout=120):
    start = time.time()
    while time.time() - start < timeout:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise SystemExit(f"[demo] gate timed out: {what}")


def run(url):
    env = dict(os.environ, AWS_ENDPOINT_URL=url, AWS_ACCESS_KEY_ID="demo", AWS_SECRET_ACCESS_KEY="demo",
               AWS_EC2_METADATA_DISABLED="true", TF_IN_AUTOMATION="1",
               EFS_DR_PROVIDER_MAX_POLL="100ms")
    session = boto3.session.Session(aws_access_key_id="demo", aws_secret_access_key="demo")
    efs = {r: session.client("efs", region_name=r, endpoint_url=url) for r in (A_REGION, B_REGION)}
    t0 = time.time()

    a = efs[A_REGION].create_file_system(CreationToken="demo-home", Tags=[{"Key": "Name", "Value": "home"}])["FileSystemId"]
    b = efs[B_REGION].create_file_system(CreationToken="demo-dr")["FileSystemId"]
    control(url, "POST", "/_sim/clock/advance", {"seconds": 10})
    for i in range(5):
        control(url, "PUT", f"/_sim/file-systems/{a}/files/app/report-{i}.txt", f"report {i}".encode())
    efs[B_REGION].update_file_system_protection(FileSystemId=b, ReplicationOverwriteProtection="DISABLED")
    log(f"pair 'home': A={a} ({A_REGION}) B={b} ({B_REGION}); 5 files on A")

    tf_dir = tempfile.mkdtemp(prefix="efs-dr-demo-")
    with open(os.path.join(tf_dir, "main.tf"), "w") as f:
        f.write(f'''variable "directions" {{ type = map(string) }}
provider "aws" {{
  alias  = "a"
  region = "{A_REGION}"
}}
provider "aws" {{
  alias  = "b"
  region = "{B_REGION}"
}}
module "replication" {{
  source    = "{ROOT}/modules/efs_replication"
  providers = {{ aws.primary = aws.a, aws.secondary = aws.b }}
  pairs = {{ home = {{ primary = {{ region = "{A_REGION}", file_system_id = "{a}" }}, secondary = {{ region = "{B_REGION}", file_system_id = "{b}" }}, direction = var.directions["home"] }} }}
}}
output "pairs" {{ value = module.replication.pairs }}
''')

    def terraform(*args):
        r = subprocess.run(["terraform", *args, "-no-color"], cwd=tf_dir, env=env, capture_output=True, text=True)
        if r.returncode not in (0, 2):
            raise SystemExit(f"[demo] terraform {args[0]} failed:\n{r.stderr}")
        return r

    def phase(direction, allowed):
        with open(os.path.join(tf_dir, "efs-dr.auto.tfvars.json"), "w") as f:
            json.dump({"directions": {"home": direction}}, f)
        terraform("plan", "-input=false", "-detailed-exitcode", "-out=phase.tfplan")
        plan = json.loads(terraform("show", "-json", "phase.tfplan").stdout)
        changes = [(c["address"], c["change"]["actions"]) for c in plan.get("resource_changes", [])
                   if c["change"]["actions"] != ["no-op"]]
        unexpected = [c for c in changes if c not in allowed]
        if unexpected:
            raise SystemExit(f"[demo] refusing plan with unexpected changes: {unexpected}")
        terraform("apply", "-input=false", "-auto-approve", "phase.tfplan")
        log(f"  terraform applied {changes or 'nothing'}")

    def replication(region, fs):
        try:
            return efs[region].describe_replication_configurations(FileSystemId=fs)["Replications"][0]["Destinations"][0]
        except efs[region].exceptions.ReplicationNotFound:
            return None

    def protection(region, fs):
        return efs[region].describe_file_systems(FileSystemId=fs)["FileSystems"][0]["FileSystemProtection"]["ReplicationOverwriteProtection"]

    def synced_after(region, fs, t):
        d = replication(region, fs)
        return d and d.get("LastReplicatedTimestamp") and d["LastReplicatedTimestamp"].timestamp() > t

    fwd = 'module.replication.aws_efs_replication_configuration.forward["home"]'
    rev = 'module.replication.aws_efs_replication_configuration.reverse["home"]'
    terraform("init", "-input=false")

    log("init: replicate A -> B")
    phase("forward", [(fwd, ["create"])])
    last_write = sim_now(url)
    until("A -> B synced", lambda: synced_after(A_REGION, a, last_write))
    log("  gate: A -> B ENABLED and synced")

    log("failover: remove A -> B")
    start = sim_now(url)
    phase("none", [(fwd, ["delete"])])
    until("no replication, B writable", lambda: replication(A_REGION, a) is None and replication(B_REGION, b) is None
          and protection(B_REGION, b) == "ENABLED")
    log(f"  gate: B writable; RTO {sim_now(url) - start:.0f} s of AWS time")

    for i in range(3):
        control(url, "PUT", f"/_sim/file-systems/{b}/files/app/written-on-b-{i}.txt", f"b {i}".encode())
    log("  the application wrote 3 files on B")

    log("failback: replicate B -> A into the existing A")
    efs[A_REGION].update_file_system_protection(FileSystemId=a, ReplicationOverwriteProtection="DISABLED")
    until("A protection DISABLED", lambda: protection(A_REGION, a) == "DISABLED")
    phase("reverse", [(rev, ["create"])])
    writes_stopped = sim_now(url)
    log("  writes on B stopped; waiting until B -> A has synced past that moment")
    until("B -> A synced past the last write", lambda: synced_after(B_REGION, b, writes_stopped))
    phase("none", [(rev, ["delete"])])
    until("A writable", lambda: replication(B_REGION, b) is None and protection(A_REGION, a) == "ENABLED")
    efs[B_REGION].update_file_system_protection(FileSystemId=b, ReplicationOverwriteProtection="DISABLED")
    phase("forward", [(fwd, ["create"])])
    restored = sim_now(url)
    until("A -> B synced", lambda: synced_after(A_REGION, a, restored))
    log("  gate: A -> B restored and synced")

    files_a = control(url, "GET", f"/_sim/file-systems/{a}/files")
    files_b = control(url, "GET", f"/_sim/file-systems/{b}/files")
    outputs = json.loads(terraform("output", "-json").stdout)["pairs"]["value"]["home"]
    ok = (len(files_a) == 8 and files_a == files_b
          and outputs["primary_file_system_id"] == a and outputs["secondary_file_system_id"] == b)
    log(f"result: A has {len(files_a)} files (5 original + 3 written on B), A == B: {files_a == files_b}, "
        f"ids unchanged: {outputs['primary_file_system_id'] == a}; wall time {time.time() - t0:.1f} s")
    if not ok:
        raise SystemExit("[demo] FAILED: data lost or ids changed")
    log("no data lost, no file-system id changed")


if __name__ == "__main__":
    main()
