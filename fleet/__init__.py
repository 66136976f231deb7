"""A local fleet, all in local processes: the vendor sandbox, redis-server, three `usagegraph
serve` replicas sharing it behind a round-robin balancer, and Hive Gateway composing the subgraph
in front (issue 18, point 3).

`python -m fleet` (`make fleet`) runs one in the foreground for a person to try; `Fleet`
(fleet/runner.py) runs one for tests/fleet, whose end-to-end test kills a replica and restarts
Redis under load. Every process gets a free loopback port and a log file in the fleet's folder,
and is stopped when the fleet stops (also on Ctrl-C and on a failing test).
"""
