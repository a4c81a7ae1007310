"""The simulator's replication lifecycle through boto3: a client nobody here wrote.

Run by `make test` after the binary is built. Starts `efs-dr sim serve` on a free port and drives
EFS (restJson1) and CloudWatch (Smithy RPC v2 CBOR in current botocore) through the standard
endpoint override.
"""

import json
import os
import subprocess
import sys
import unittest
import urllib.request
from datetime import datetime, timedelta, timezone

import boto3
import botocore
from botocore.config import Config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("EFS_DR_BIN", os.path.join(ROOT, "target", "debug", "efs-dr"))


class Simulator:
    def __init__(self):
        self.proc = subprocess.Popen(
            [BINARY, "sim", "serve", "--listen", "127.0.0.1:0", "--time-scale", "1", "--seed", "5"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        line = self.proc.stdout.readline()
        self.url = line.strip().rsplit(" ", 1)[-1]
        assert self.url.startswith("http://127.0.0.1:"), line

    def control(self, method, path, body=None):
        if body is None or isinstance(body, bytes):
            data = body
        else:
            data = json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        with urllib.request.urlopen(req) as resp:
            raw = resp.read()
            return json.loads(raw) if raw else None

    def advance(self, seconds):
        return self.control("POST", "/_sim/clock/advance", {"seconds": seconds})

    def now(self):
        return datetime.fromtimestamp(self.control("GET", "/_sim/clock")["now_ms"] / 1000, timezone.utc)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


class Boto3Lifecycle(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Simulator()
        session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x")
        cfg = Config(retries={"total_max_attempts": 1, "mode": "standard"})
        cls.east = session.client("efs", region_name="us-east-1", endpoint_url=cls.sim.url, config=cfg)
        cls.west = session.client("efs", region_name="us-west-2", endpoint_url=cls.sim.url, config=cfg)
        cls.cw = session.client("cloudwatch", region_name="us-east-1", endpoint_url=cls.sim.url, config=cfg)

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()

    def test_cloudwatch_speaks_cbor(self):
        protocol = self.cw.meta.service_model.protocol
        self.assertEqual(protocol, "smithy-rpc-v2-cbor", "botocore >= 1.42.7 is expected")

    def test_replication_lifecycle(self):
        a = self.east.create_file_system(CreationToken="py-a", Tags=[{"Key": "Name", "Value": "home"}])
        self.assertEqual(a["LifeCycleState"], "creating")
        self.assertEqual(a["Name"], "home")
        a = a["FileSystemId"]
        b = self.west.create_file_system(CreationToken="py-b")["FileSystemId"]
        self.sim.advance(10)

        with self.assertRaises(self.east.exceptions.FileSystemAlreadyExists) as ctx:
            self.east.create_file_system(CreationToken="py-a")
        self.assertEqual(ctx.exception.response["FileSystemId"], a)

        self.sim.control("PUT", f"/_sim/file-systems/{a}/files/data/hello.txt", b"hello")
        with self.assertRaises(self.east.exceptions.ReplicationNotFound) as ctx:
            self.east.describe_replication_configurations(FileSystemId=a)
        self.assertEqual(ctx.exception.response["ResponseMetadata"]["HTTPStatusCode"], 404)

        out = self.west.update_file_system_protection(FileSystemId=b, ReplicationOverwriteProtection="DISABLED")
        self.assertEqual(out["ReplicationOverwriteProtection"], "DISABLED")
        created = self.east.create_replication_configuration(
            SourceFileSystemId=a, Destinations=[{"Region": "us-west-2", "FileSystemId": b}]
        )
        self.assertEqual(created["Destinations"][0]["Status"], "ENABLING")
        self.assertEqual(created["SourceFileSystemRegion"], "us-east-1")
        self.assertIsInstance(created["CreationTime"], datetime)

        fs_b = self.west.describe_file_systems(FileSystemId=b)["FileSystems"][0]
        self.assertEqual(fs_b["FileSystemProtection"]["ReplicationOverwriteProtection"], "REPLICATING")

        self.sim.advance(15 * 60)
        self.sim.advance(60)
        dest = self.west.describe_replication_configurations(FileSystemId=b)["Replications"][0]["Destinations"][0]
        self.assertEqual(dest["Status"], "ENABLED")
        self.assertLessEqual(dest["LastReplicatedTimestamp"], self.sim.now())
        files_b = self.sim.control("GET", f"/_sim/file-systems/{b}/files")
        self.assertEqual([f["path"] for f in files_b], ["data/hello.txt"])

        now = self.sim.now()
        metrics = self.cw.get_metric_data(
            StartTime=now - timedelta(hours=1),
            EndTime=now,
            MetricDataQueries=[
                {
                    "Id": "w",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "AWS/EFS",
                            "MetricName": "DataWriteIOBytes",
                            "Dimensions": [{"Name": "FileSystemId", "Value": a}],
                        },
                        "Period": 60,
                        "Stat": "Sum",
                    },
                }
            ],
        )
        self.assertEqual(metrics["MetricDataResults"][0]["Values"], [5.0])
        self.assertIsInstance(metrics["MetricDataResults"][0]["Timestamps"][0], datetime)

        self.west.delete_replication_configuration(SourceFileSystemId=a)
        dest = self.east.describe_replication_configurations(FileSystemId=a)["Replications"][0]["Destinations"][0]
        self.assertEqual(dest["Status"], "DELETING")
        self.sim.advance(8 * 60)
        for client, fs in ((self.east, a), (self.west, b)):
            with self.assertRaises(client.exceptions.ReplicationNotFound):
                client.describe_replication_configurations(FileSystemId=fs)
        fs_b = self.west.describe_file_systems(FileSystemId=b)["FileSystems"][0]
        self.assertEqual(fs_b["FileSystemProtection"]["ReplicationOverwriteProtection"], "ENABLED")

    def test_sts_get_caller_identity_answers_per_region_and_goes_down_with_it(self):
        session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x")
        cfg = Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=2, read_timeout=2)
        sts = session.client("sts", region_name="eu-west-1", endpoint_url=self.sim.url, config=cfg)
        self.assertEqual(sts.meta.service_model.protocol, "query")
        me = sts.get_caller_identity()
        self.assertEqual(me["Account"], "123456789012")
        self.assertTrue(me["Arn"].startswith("arn:aws:iam::123456789012:"), me["Arn"])
        self.sim.control("POST", "/_sim/regions/eu-west-1/outage")
        try:
            with self.assertRaises(botocore.exceptions.BotoCoreError):
                sts.get_caller_identity()
        finally:
            self.sim.control("DELETE", "/_sim/regions/eu-west-1/outage")
        self.sim.control("POST", "/_sim/faults", {"operation": "GetCallerIdentity", "error": "ThrottlingException", "count": 1})
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            sts.get_caller_identity()
        self.assertEqual(ctx.exception.response["Error"]["Code"], "ThrottlingException")

    def test_throttling_surfaces_with_its_code(self):
        self.sim.control("POST", "/_sim/faults", {"operation": "DescribeFileSystems", "error": "ThrottlingException", "count": 1})
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.east.describe_file_systems()
        self.assertEqual(ctx.exception.response["Error"]["Code"], "ThrottlingException")


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    failed = len(result.failures) + len(result.errors)
    print(f"boto3: {result.testsRun - failed} passed, {failed} failed")
    sys.exit(1 if failed or result.testsRun == 0 else 0)
