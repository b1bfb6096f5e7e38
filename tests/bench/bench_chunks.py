"""Chunked storage of a large CSV: first store, 1% appends, store size, reading it back.

Run: ``python tests/bench/bench_chunks.py BIG.csv WORKDIR`` (BIG.csv e.g. 1.09 GB made by
``gen.py 2.5e6``; it is copied into WORKDIR and never changed). Prints one line per step:

* ``first``: ``store_file`` of the new file in a fresh subprocess (``/usr/bin/time``: seconds
  and peak RSS), chunked and — for comparison — whole (``WORKBENCH_CHUNKED_MIN_BYTES`` huge);
* ``append i``: ``store_file(previous=...)`` after appending 1% more rows (the last 1% of lines
  copied; with ``APPEND=new``, new random rows like gen.py's, which no chunk dedup helps), the
  store's growth in bytes and % of the file;
* ``after 10 appends``: store bytes / final file bytes;
* ``read``: polars ``read_csv`` of ``path(digest)`` for the chunked (assembled) file vs the
  plain file, and the time ``path()`` takes to assemble it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

STORE_ONE = """
import json, sys, time
from pathlib import Path
from workbench.store.objects import ObjectStore
s = ObjectStore(Path(sys.argv[1]))
t = time.perf_counter()
st = s.store_file(Path(sys.argv[2]), previous=sys.argv[3] or None)
s.sync()
print(json.dumps({"s": time.perf_counter() - t, "digest": st.digest,
                  "appended": st.appended_to is not None, "usage": s.usage()["total"]}))
"""

READ_ONE = """
import sys, time
from pathlib import Path
import polars as pl
from workbench.store.objects import ObjectStore
s = ObjectStore(Path(sys.argv[1]))
t = time.perf_counter()
p = s.path(sys.argv[2]) if sys.argv[2] != "-" else Path(sys.argv[3])
t1 = time.perf_counter()
df = pl.read_csv(p)
t2 = time.perf_counter()
print(f"{t1 - t:.3f} {t2 - t1:.3f} {df.height}")
"""


def run(code: str, *args: str, env: dict[str, str] | None = None) -> tuple[str, str]:
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "%e %M", sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
    )
    return proc.stdout.strip(), proc.stderr.strip().splitlines()[-1]


def new_rows(n: int, seed: int) -> bytes:
    import io

    import numpy as np
    import polars as pl

    rng = np.random.default_rng(1000 + seed)
    cols: dict[str, object] = {f"f{i}": rng.normal(size=n) * 100 for i in range(20)}
    cols |= {f"i{i}": rng.integers(0, 100000, n) for i in range(5)}
    names = ["alpha", "beta", "gamma", "delta", "eps"]
    cols |= {f"s{i}": rng.choice(names, n) for i in range(5)}
    cols["target"] = rng.integers(0, 2, n)
    buf = io.BytesIO()
    pl.DataFrame(cols).write_csv(buf, include_header=False)
    return buf.getvalue()


def main() -> None:
    big, work = Path(sys.argv[1]), Path(sys.argv[2])
    work.mkdir(parents=True, exist_ok=True)
    data = work / "big.csv"
    shutil.copyfile(big, data)
    store = work / ".wb"
    for label, env in (("chunked", {}), ("whole", {"WORKBENCH_CHUNKED_MIN_BYTES": str(1 << 50)})):
        for _ in range(int(os.environ.get("REPEAT", "3"))):
            shutil.rmtree(store, ignore_errors=True)
            subprocess.run(["sync"], check=True)
            out, timed = run(STORE_ONE, str(store), str(data), "", env=env)
            print(
                f"first {label}: store_file {json.loads(out)['s']:.2f} s; process (s, KB): {timed}"
            )
    shutil.rmtree(store, ignore_errors=True)
    digest = json.loads(run(STORE_ONE, str(store), str(data), "")[0])["digest"]
    lines = data.read_bytes().splitlines(keepends=True)
    count = len(lines) // 100
    tail = b"".join(lines[-count:])
    del lines
    for i in range(1, 11):
        if os.environ.get("APPEND") == "new":  # rows never seen before: no dedup to help
            tail = new_rows(count, i)
        before = json.loads(run(STORE_ONE, str(store), str(data), digest)[0])["usage"]
        with open(data, "ab") as f:
            f.write(tail)
        out, timed = run(STORE_ONE, str(store), str(data), digest)
        got = json.loads(out)
        grown = got["usage"] - before
        size = data.stat().st_size
        print(
            f"append {i}: store_file {got['s']:.3f} s (process {timed}), appended="
            f"{got['appended']}, store +{grown} B = {100 * grown / size:.2f}% of the file"
        )
        digest = got["digest"]
    total = json.loads(run(STORE_ONE, str(store), str(data), digest)[0])["usage"]
    print(
        f"after 10 appends: store {total} B / file {data.stat().st_size} B = "
        f"{total / data.stat().st_size:.3f}x"
    )
    for _ in range(int(os.environ.get("REPEAT", "3"))):
        chunked, _ = run(READ_ONE, str(store), digest)
        plain, _ = run(READ_ONE, str(store), "-", str(data))
        print(f"read (path s, read_csv s, rows): chunked {chunked} | plain file {plain}")
    t = time.perf_counter()
    print(f"done in {time.perf_counter() - t:.1f} s")


if __name__ == "__main__":
    main()
