"""`make bench`: every benchmark of the course, one after the other.

Times are medians on this machine; compare the ratios, which hold from machine to machine
far better than the absolute numbers. Nothing here is a test: it only reports.
"""
import importlib
import platform
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

SUITES = [
    ("Part I: the spiral network", "bench_part1"),
    ("Part II: convolution", "bench_conv"),
    ("Part II: the digits CNN", "bench_digits"),
]


def main(argv=None):
    names = set(argv if argv is not None else sys.argv[1:])
    print(f"ANNICAS benchmarks - Python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}")
    try:
        import threadpoolctl

        for info in threadpoolctl.threadpool_info():
            print(f"  BLAS: {info.get('internal_api')} {info.get('version')}, {info.get('num_threads')} threads")
    except ImportError:
        pass
    for title, module in SUITES:
        if names and module not in names:
            continue
        print(f"\n=== {title} ({module}.py) ===")
        start = time.perf_counter()
        importlib.import_module(module).main()
        print(f"({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
