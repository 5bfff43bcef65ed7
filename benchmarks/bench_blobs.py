"""Blob store side by side: the local sidecar directory vs fsspec on `file://` vs an
S3-compatible server (moto's, on 127.0.0.1), for a trivial blob and a large one.

Each round writes a new blob (a new key: nothing is deduplicated) and reads it back
verified, in every store in turn (interleaved, so the machine's noise hits all alike);
reports the median seconds per store and the ratio to the local store. Asserts nothing.

    python benchmarks/bench_blobs.py [--runs 5] [--mb 200]

It starts its own moto server on a free 127.0.0.1 port (services.py) and stops it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from services import BUCKET, load, moto

from mirrorneuron_nb.store.blobs import BlobStore
from mirrorneuron_nb.store.blobs_remote import RemoteBlobStore
from mirrorneuron_nb.values.digest import digest

CALLS: Counter[str] = Counter()


def _count_s3_requests() -> None:
    """Count every request s3fs sends, by operation (what a bucket bills and throttles)."""
    from s3fs import S3FileSystem

    inner = S3FileSystem._call_s3

    async def counted(self: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        CALLS[method] += 1
        return await inner(self, method, *args, **kwargs)

    S3FileSystem._call_s3 = counted


def _round(store: Any, data: bytes, calls: list[str]) -> tuple[float, float]:
    key = digest(data)
    CALLS.clear()
    began = time.perf_counter()
    store.put(key, [data])
    store.sync_dirs([key])
    wrote = time.perf_counter() - began
    put_calls = dict(CALLS)
    CALLS.clear()
    began = time.perf_counter()
    assert store.read(key, len(data), verify=True) == data
    read = time.perf_counter() - began
    read_calls = dict(CALLS)
    CALLS.clear()
    store.put(key, [data])  # stored already (another worker's): what asking saves
    if read_calls or put_calls:
        calls.append(f"put {put_calls}, read {read_calls}, put again {dict(CALLS)}")
    return wrote, read


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--mb", type=int, default=200)
    args = parser.parse_args()
    print(f"load average before: {load()}")
    _count_s3_requests()
    with moto(), tempfile.TemporaryDirectory() as tmp:
        stores: dict[str, Any] = {
            "local": BlobStore(Path(tmp) / "blobs"),
            "file://": RemoteBlobStore(f"file://{tmp}/fsspec"),
            "s3 (moto)": RemoteBlobStore(f"s3://{BUCKET}/blobs"),
        }
        big = os.urandom(args.mb << 20)
        for label, size in (("trivial (100 B)", 100), (f"{args.mb} MB", len(big))):
            times: dict[str, list[tuple[float, float]]] = {k: [] for k in stores}
            calls: list[str] = []
            for run in range(args.runs):
                for name, store in stores.items():
                    # A new blob per round and store: the first 8 bytes differ.
                    data = (run * 16 + len(times[name])).to_bytes(8, "big") + (
                        big[8:size] if size > 100 else os.urandom(size - 8)
                    )
                    times[name].append(_round(store, data, calls))
            print(f"\n{label}: median of {args.runs} runs (write = put + sync; read verified)")
            base_w = statistics.median(w for w, _ in times["local"])
            base_r = statistics.median(r for _, r in times["local"])
            for name, found in times.items():
                w = statistics.median(x for x, _ in found)
                r = statistics.median(x for _, x in found)
                print(
                    f"  {name:<10} write {w * 1000:9.1f} ms ({w / base_w:5.1f}x)   "
                    f"read {r * 1000:9.1f} ms ({r / base_r:5.1f}x)"
                )
            print(f"  S3 requests per blob: {sorted(set(calls))}")
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()
