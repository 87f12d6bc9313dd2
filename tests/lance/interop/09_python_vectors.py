"""Writes float32 numpy vectors from Python through the lance backend (used by
09_python_vectors.mjs, which searches them with LanceDB).

Usage: python3 09_python_vectors.py <data_dir> <topic> <rows> <dim>
Needs PYTHONPATH=<build>/python. Vector i is a unit-ish vector with a spike at i % dim.
"""

import math
import sys

import numpy as np

import persisting


def vector(i: int, dim: int) -> np.ndarray:
    """Row i's vector: a cosine pattern with a spike, so each row has a distinct nearest one."""
    v = np.array([math.cos(i * 31 + k * 7) for k in range(dim)], dtype=np.float32)
    v[i % dim] += 3
    return v


def main() -> None:
    data_dir, topic, rows, dim = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    with persisting.open(data_dir) as system:
        queue = persisting.Queue(system, topic, num_buckets=1, backend="lance").sync()
        for start in range(0, rows, 250):
            queue.put([{"id": i, "label": f"row {i}", "v": vector(i, dim)}
                       for i in range(start, min(rows, start + 250))])
        queue.flush()


if __name__ == "__main__":
    main()
