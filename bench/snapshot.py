"""Snapshot benchmark: create, download and recover a 200k x 128 collection over REST.

Reports MB/s for each step and compares snapshot creation with `tar -cf` of the
collection's storage directory on the same disk (the issue's target: creation at
>= 0.5x raw `tar` throughput).  Each step runs `--repeat` times; the table shows the
best and the median run (the disk and the two shared cores make single runs noisy).
Usage: `python -m bench.snapshot [--n 200000] [--dim 128] [--repeat 5]`.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import orjson

from bench.common import make_points
from tests.server_process import ServerProcess

BATCH = 1024
MB = 1024 * 1024


def _ingest(http: httpx.Client, n: int, dim: int) -> None:
    vectors, payloads = make_points(n, dim)
    http.put("/collections/bench", json={"vectors": {"size": dim, "distance": "Cosine"}}
             ).raise_for_status()
    for start in range(0, n, BATCH):
        end = min(start + BATCH, n)
        body = orjson.dumps({"points": [{"id": i, "vector": vectors[i], "payload": payloads[i]}
                                        for i in range(start, end)]},
                            option=orjson.OPT_SERIALIZE_NUMPY)
        http.put("/collections/bench/points?wait=true", content=body,
                 headers={"content-type": "application/json"}).raise_for_status()


def _wait_green(http: httpx.Client, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    status = "?"
    while time.monotonic() < deadline:
        status = http.get("/collections/bench").json()["result"]["status"]
        if status == "green":
            return status
        time.sleep(1)
    return status


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _best(times: list[float]) -> float:
    return min(times)


def _median(times: list[float]) -> float:
    return sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--index-timeout", type=float, default=600,
                        help="seconds to wait for the HNSW build before measuring")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        server = ServerProcess(base / "storage").start()
        try:
            http = httpx.Client(base_url=server.url, timeout=600)
            started = time.perf_counter()
            _ingest(http, args.n, args.dim)
            print(f"ingested {args.n} x {args.dim} in {time.perf_counter() - started:.1f}s")
            status = _wait_green(http, args.index_timeout)
            print(f"collection status before measuring: {status}")
            http.post("/collections/bench/snapshots").raise_for_status()  # warm the caches
            col_dir = base / "storage" / "collections" / "bench"
            data_bytes = _dir_bytes(col_dir)

            tar_times, create_times, sizes, names = [], [], [], []
            for i in range(args.repeat):
                out = base / f"raw-{i}.tar"
                t = time.perf_counter()
                subprocess.run(["tar", "-cf", str(out), "-C", str(col_dir), "."], check=True)
                subprocess.run(["sync", "-f", str(out)], check=True)
                tar_times.append(time.perf_counter() - t)
                out.unlink()
                t = time.perf_counter()
                snap = http.post("/collections/bench/snapshots").json()["result"]
                create_times.append(time.perf_counter() - t)
                sizes.append(snap["size"])
                names.append(snap["name"])

            size = sizes[-1]
            download_times = []
            for i in range(args.repeat):
                target = base / f"download-{i}.snapshot"
                t = time.perf_counter()
                with http.stream("GET", f"/collections/bench/snapshots/{names[-1]}") as resp, \
                        open(target, "wb") as fh:
                    for chunk in resp.iter_bytes(1 << 20):
                        fh.write(chunk)
                download_times.append(time.perf_counter() - t)
                if i:
                    target.unlink()

            location = (base / "snapshots" / "bench" / names[-1]).as_uri()
            recover_times = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                http.put("/collections/restored/snapshots/recover",
                         json={"location": location}).raise_for_status()
                recover_times.append(time.perf_counter() - t)
            count = http.post("/collections/restored/points/count", json={}).json()[
                "result"]["count"]
            assert count == args.n, count
            upload_times = []
            archive = base / "download-0.snapshot"
            for _ in range(args.repeat):
                t = time.perf_counter()
                with open(archive, "rb") as fh:
                    http.post("/collections/uploaded/snapshots/upload",
                              files={"snapshot": (archive.name, fh)}).raise_for_status()
                upload_times.append(time.perf_counter() - t)
        finally:
            server.stop()
            shutil.rmtree(base / "storage", ignore_errors=True)

    rows = [
        ("tar -cf of the collection directory", data_bytes, tar_times),
        ("snapshot create (POST …/snapshots)", size, create_times),
        ("snapshot download (GET, streamed)", size, download_times),
        ("recover from file:// (PUT …/recover)", size, recover_times),
        ("recover by upload (POST …/upload)", size, upload_times),
    ]
    print(f"\n{args.n} x {args.dim} float32, collection directory {data_bytes / MB:.1f} MB, "
          f"snapshot {size / MB:.1f} MB, {args.repeat} runs each")
    print(f"{'step':<40}{'best s':>8}{'MB/s':>7}{'vs tar':>8}{'median s':>10}{'MB/s':>7}"
          f"{'vs tar':>8}")
    tar_best = data_bytes / MB / _best(tar_times)
    tar_median = data_bytes / MB / _median(tar_times)
    for name, nbytes, times in rows:
        best, median = _best(times), _median(times)
        rate_best, rate_median = nbytes / MB / best, nbytes / MB / median
        print(f"{name:<40}{best:>8.3f}{rate_best:>7.0f}{rate_best / tar_best:>8.2f}"
              f"{median:>10.3f}{rate_median:>7.0f}{rate_median / tar_median:>8.2f}")

if __name__ == "__main__":
    main()
