"""REST vs gRPC on one server, driven by native load generators instead of Python clients.

Usage: `python -m bench.native_clients [--n 20000] [--seconds 5] [--rounds 3]`.
Needs `wrk` (Debian: `apt-get install wrk`) and `ghz`
(`go install github.com/bojand/ghz/cmd/ghz@latest`, on PATH or in ~/go/bin).

`bench/grpc.py` drives both transports from Python; a Python client's own per-call cost
(grpcio's client especially) is part of its figures. Here wrk (C) and ghz (Go) send the
same requests over one connection, one at a time, so what differs is the server's
transport: for an empty call (`GET /healthz` vs `qdrant.Qdrant/HealthCheck`) and for a
top-10 search (`POST /points/search` vs `qdrant.Points/Search`, hnsw_ef 64) on an
indexed collection of `--n` 128-d points. The two tools take turns (`--rounds` times
each, `--seconds` per turn). Besides calls/s it reports the server process's CPU time per
call, read from /proc/<pid>/stat around each turn (user + system, every thread).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from google.protobuf import descriptor_pb2
from qdrant_client.grpc import points_service_pb2, qdrant_pb2

from bench.common import make_points
from tests.server_process import ServerProcess

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def tool(name: str) -> str:
    found = shutil.which(name) or next(
        (str(p) for p in [Path.home() / "go" / "bin" / name] if p.exists()), None)
    if found is None:
        sys.exit(f"{name} not found: see this module's docstring for how to install it")
    return found


def protoset(path: Path) -> None:
    """Qdrant's service descriptors (from qdrant-client's modules) for ghz."""
    files = descriptor_pb2.FileDescriptorSet()
    seen: set[str] = set()

    def add(fd: object) -> None:
        if fd.name in seen:  # type: ignore[attr-defined]
            return
        seen.add(fd.name)  # type: ignore[attr-defined]
        for dep in fd.dependencies:  # type: ignore[attr-defined]
            add(dep)
        proto = descriptor_pb2.FileDescriptorProto()
        fd.CopyToProto(proto)  # type: ignore[attr-defined]
        files.file.append(proto)

    for module in (qdrant_pb2, points_service_pb2):
        add(module.DESCRIPTOR)
    path.write_bytes(files.SerializeToString())


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def run_wrk(wrk: str, url: str, seconds: int, script: Path | None) -> int:
    cmd = [wrk, "-t1", "-c1", f"-d{seconds}s", url]
    if script is not None:
        cmd[4:4] = ["-s", str(script)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    match = re.search(r"(\d+) requests in", out)
    if match is None or "Non-2xx" in out:
        raise RuntimeError(f"wrk: {out}")
    return int(match.group(1))


def run_ghz(ghz: str, target: str, seconds: int, protos: Path, call: str, data: Path) -> int:
    out = subprocess.run([ghz, "--insecure", "-c", "1", "--connections", "1",
                          "-z", f"{seconds}s", "--protoset", str(protos), "--call", call,
                          "-D", str(data), "--format", "json", target],
                         capture_output=True, text=True, check=True).stdout
    report = json.loads(out)
    # the call in flight when the duration ends fails with "transport is closing"
    errors = {msg: n for msg, n in (report.get("errorDistribution") or {}).items()
              if "transport is closing" not in msg or n > 1}
    if errors:
        raise RuntimeError(f"ghz: {errors}")
    return int((report.get("statusCodeDistribution") or {}).get("OK", 0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    wrk, ghz = tool("wrk"), tool("ghz")
    vectors, _ = make_points(args.n + 1, 128)
    query = vectors[-1].tolist()
    root = str(Path(__file__).resolve().parent.parent)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        protoset(work / "qdrant.protoset")
        (work / "empty.json").write_text("{}")
        (work / "search.json").write_text(json.dumps({
            "collection_name": "bench", "vector": query, "limit": 10,
            "params": {"hnsw_ef": 64}}))
        body = json.dumps({"vector": query, "limit": 10, "params": {"hnsw_ef": 64}})
        (work / "search.lua").write_text(
            'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = {json.dumps(body)}\n")
        server = ServerProcess(work / "storage", env={"PYTHONPATH": os.pathsep.join(
            filter(None, [root, os.environ.get("PYTHONPATH")]))}).start()
        try:
            url = server.url
            httpx.put(f"{url}/collections/bench", json={
                "vectors": {"size": 128, "distance": "Cosine"},
                "optimizers_config": {"indexing_threshold": 1000}}).raise_for_status()
            for start in range(0, args.n, 1000):
                httpx.put(f"{url}/collections/bench/points?wait=true", json={"points": [
                    {"id": i, "vector": vectors[i].tolist()}
                    for i in range(start, min(start + 1000, args.n))]},
                    timeout=60).raise_for_status()
            while httpx.get(f"{url}/collections/bench").json()["result"]["status"] != "green":
                time.sleep(0.5)
            target = f"127.0.0.1:{server.grpc_port}"
            pid = server.proc.pid
            runs = {
                ("empty call", "REST GET /healthz"): lambda: run_wrk(
                    wrk, f"{url}/healthz", args.seconds, None),
                ("empty call", "gRPC Qdrant/HealthCheck"): lambda: run_ghz(
                    ghz, target, args.seconds, work / "qdrant.protoset",
                    "qdrant.Qdrant/HealthCheck", work / "empty.json"),
                ("search", "REST POST /points/search"): lambda: run_wrk(
                    wrk, f"{url}/collections/bench/points/search", args.seconds,
                    work / "search.lua"),
                ("search", "gRPC Points/Search"): lambda: run_ghz(
                    ghz, target, args.seconds, work / "qdrant.protoset",
                    "qdrant.Points/Search", work / "search.json"),
            }
            totals = {key: [0, 0.0, 0.0] for key in runs}  # calls, seconds, server CPU s
            for rnd in range(args.rounds):
                for key in (list(runs) if rnd % 2 == 0 else list(runs)[::-1]):
                    cpu, started = cpu_seconds(pid), time.perf_counter()
                    calls = runs[key]()
                    totals[key][0] += calls
                    totals[key][1] += time.perf_counter() - started
                    totals[key][2] += cpu_seconds(pid) - cpu
        finally:
            server.stop()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n{os.cpu_count()} CPUs; load average at the end: {load}; {args.n} points, "
          f"{args.rounds} turns of {args.seconds}s per row, one connection, one call at a "
          "time (wrk for REST, ghz for gRPC)\n")
    print(f"{'kind':<12}{'transport':<28}{'calls/s':>10}{'server CPU/call':>18}")
    for (kind, name), (calls, seconds, cpu) in totals.items():
        print(f"{kind:<12}{name:<28}{calls / seconds:>10,.0f}{1e3 * cpu / calls:>15.3f} ms")
    for kind in ("empty call", "search"):
        rest, grpc_ = (totals[k] for k in runs if k[0] == kind)
        print(f"gRPC/REST calls/s, {kind}: "
              f"{(grpc_[0] / grpc_[1]) / (rest[0] / rest[1]):.2f}x")


if __name__ == "__main__":
    main()
