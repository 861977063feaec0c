"""How the vector index's build buffer sets its segments, build time and query latency, by size.

Neo4j 5.26 builds a vector index in RAM buffers of ``internal.dbms.index.vector.population_ram_buffer_size``
MB (Neo4j's default: 1; the managed server's: a quarter of its heap, or
``PERSONAGRAPH_NEO4J_VECTOR_BUFFER``); every flush is a Lucene segment with its own HNSW graph,
and a query walks every graph. For each number of vectors and each buffer size this benchmark bulk-imports the same
seeded clustered unit vectors (``--dim`` wide, 5,000 Gaussian clusters) into a fresh managed Neo4j
(its own state folder and port, started and stopped here), creates the index as the store does
(cosine, no quantisation), and measures the build, the segments it left, and the p50 / p99 of
``db.index.vector.queryNodes`` for 150 and 300 candidates (all returned to Python) over
``--queries`` other vectors. Each cell is one fresh server; the buffer sizes of one size run back to
back, so compare within a size (ratios). Prints a markdown table.

    .venv/bin/python benchmarks/vector_index_build.py [--vectors 100000,1000000] [--buffers 1,375] [--port 17810]
"""
from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from personagraph.row_table import vector_column
from personagraph.store.bulk_import import ARRAY_DELIMITER, DEFAULT_DATABASE, ImportFiles
from personagraph.store.connection_settings import ConnectionSettings
from personagraph.store.neo4j_server import NEO4J_VERSION, Neo4jServer

CLUSTERS = 5000
CANDIDATES = (150, 300)
WARM_UP_QUERIES = 50


def clustered_vectors(count: int, dim: int, seed: int) -> np.ndarray:
    """Unit vectors around ``CLUSTERS`` shared centres (the centres do not depend on ``seed``)."""
    centres = np.random.default_rng(0).standard_normal((CLUSTERS, dim)).astype(np.float32)
    rng = np.random.default_rng(seed)
    vectors = centres[rng.integers(0, CLUSTERS, count)] + 0.6 * rng.standard_normal((count, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def write_nodes(folder: Path, count: int, dim: int) -> list[str]:
    """The import files of ``count`` :User nodes with a ``search_embedding``, written as a first load writes
    users (:class:`ImportFiles`); returns the importer's ``--nodes`` arguments."""
    files = ImportFiles(folder, run_id="vector-index-build")
    ids = pa.array([f"u{i}" for i in range(count)])
    vectors = np.concatenate([clustered_vectors(min(50_000, count - start), dim, seed=1 + start)
                              for start in range(0, count, 50_000)])  # seeded by block, as the docs' tables were
    files.nodes("User", pa.table({"id": ids, "search_embedding": vector_column(vectors)}))
    return files.arguments


def measure(server: Neo4jServer, files: list[str], dim: int, queries: int) -> dict[str, float]:
    server.start(timeout=600)
    server.stop()
    server.run_admin("database", "import", "full", DEFAULT_DATABASE, "--overwrite-destination=true",
                     f"--array-delimiter=U+{ord(ARRAY_DELIMITER):04X}", *files)
    server.start(timeout=600)
    row: dict[str, float] = {}
    try:
        with ConnectionSettings.resolve(environ={}, server=server).open_driver() as driver:
            started = time.perf_counter()
            driver.execute_query(
                "CREATE VECTOR INDEX bench FOR (n:User) ON n.search_embedding OPTIONS {indexConfig: {"
                f"`vector.dimensions`: {dim}, `vector.similarity_function`: 'cosine', "
                "`vector.quantization.enabled`: false}}")
            driver.execute_query("CALL db.awaitIndexes(86400)")
            row["build_s"] = time.perf_counter() - started
            probes = clustered_vectors(queries + WARM_UP_QUERIES, dim, seed=10**9)
            for candidates in CANDIDATES:
                latencies = []
                for vector in probes:
                    started = time.perf_counter()
                    driver.execute_query("CALL db.index.vector.queryNodes('bench', $k, $v) YIELD node, score "
                                         "RETURN elementId(node) AS id, score", k=candidates, v=vector.tolist())
                    latencies.append(1000 * (time.perf_counter() - started))
                measured = latencies[WARM_UP_QUERIES:]
                row[f"p50_{candidates}"] = statistics.median(measured)
                row[f"p99_{candidates}"] = float(np.percentile(measured, 99))
    finally:
        server.stop(timeout=600)
    index = server.home / "data" / "databases" / DEFAULT_DATABASE / "schema" / "index"
    row["segments"] = sum(1 for _ in index.rglob("vector-2.0/**/*.si"))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vectors", default="100000,1000000", help="comma-separated numbers of vectors")
    parser.add_argument("--buffers", default="1,375", help="comma-separated build buffers in MB (Neo4j's default: 1)")
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--heap", default="1500m", help="the servers' heap (the managed default)")
    parser.add_argument("--pagecache", default="1g")
    parser.add_argument("--port", type=int, default=17810)
    parser.add_argument("--work", type=Path, default=Path("/tmp/personagraph-vector-index-build"))
    args = parser.parse_args()
    print(f"$ python {' '.join(shlex.quote(a) for a in sys.argv)} (cores: {os.cpu_count()}, "
          f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())})", flush=True)
    rows = []
    for count in (int(x) for x in args.vectors.split(",")):
        shutil.rmtree(args.work, ignore_errors=True)
        args.work.mkdir(parents=True)
        files = write_nodes(args.work, count, args.dim)
        for buffer_mb in (int(x) for x in args.buffers.split(",")):
            server = Neo4jServer(home=args.work / f"neo4j-{buffer_mb}", port=args.port, heap=args.heap,
                                 pagecache=args.pagecache, vector_buffer=buffer_mb)
            row = {"vectors": count, "buffer_mb": buffer_mb, **measure(server, files, args.dim, args.queries)}
            rows.append(row)
            print(row, flush=True)
            shutil.rmtree(server.home, ignore_errors=True)
    shutil.rmtree(args.work, ignore_errors=True)
    print(f"\nNeo4j {NEO4J_VERSION} Community (heap {args.heap}, page cache {args.pagecache}); {args.dim}-d unit "
          f"vectors in {CLUSTERS:,} clusters; {args.queries:,} queries; load average after: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    print("| vectors | build buffer | segments | index build | p50, 150 candidates | p99 | p50, 300 candidates | p99 |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        latency = " | ".join(f"{row[f'{kind}_{n}']:.1f} ms" for n in CANDIDATES for kind in ("p50", "p99"))
        print(f"| {row['vectors']:,} | {row['buffer_mb']:,} MB | {row['segments']} | {row['build_s']:.0f} s | {latency} |")


if __name__ == "__main__":
    main()
