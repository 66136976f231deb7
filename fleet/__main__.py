"""`make fleet`: a local fleet in the foreground for a person to try; Ctrl-C stops it all.

python -m fleet [--folder build/fleet] [--replicas 3]
"""

from __future__ import annotations

import argparse
import signal
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from fleet.runner import Fleet, FleetOptions

ROOT = Path(__file__).resolve().parents[1]


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fleet", description=__doc__)
    parser.add_argument("--folder", type=Path, default=ROOT / "build" / "fleet", help="logs")
    parser.add_argument("--replicas", type=int, default=3)
    args = parser.parse_args(argv)
    # SIGTERM too, and SIGINT even where it starts ignored (a background job): both stop the fleet
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    print(f"starting the fleet (logs in {args.folder}) ...", flush=True)
    with Fleet(args.folder, FleetOptions(replicas=args.replicas)) as fleet:
        print(f"Hive Gateway (the API):  {fleet.gateway_url}")
        print(f"balancer (the subgraph): {fleet.balancer_url}/graphql  stats: /_balancer/stats")
        for index, url in enumerate(fleet.replica_urls):
            print(f"replica {index}:              {url}/graphql")
        print(f"Redis:                   {fleet.redis.url}")
        print(f"vendors (the sandbox):   {fleet.vendors_url}  calls: /_fleet/calls")
        print("Ctrl-C stops them all.", flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            print("\nstopping the fleet ...", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
