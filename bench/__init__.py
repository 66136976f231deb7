"""The usagegraph benchmark harness (`make bench`, `make bench-quick`, `make bench-soak`).

Everything runs as real processes on loopback: the vendor sandbox (`usagegraph sandbox`), the
graph (`usagegraph serve`) and the peer gateways (Hive Gateway over GraphQL Mesh, Tailcall). The
harness counts upstream calls through the sandbox's request recorder and compares them with a
lower bound computed from the dataset (`bench.bounds`). Results land in `bench/results/`.
"""
