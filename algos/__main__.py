"""``python -m algos``: list the searchers, or print a protocol preset (with overrides) as a user would run it.

    python -m algos list
    python -m algos show rea --protocol nats --set sample_size=5
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from algos import PROTOCOLS, SEARCHERS, get_searcher
from algos.base import Searcher, parse_assignments


def _config_dict(cls: type[Searcher], protocol: str, overrides: dict[str, str]) -> dict:
    cfg = cls.preset(protocol, overrides)
    return {"algorithm": cls.name, "kind": cls.kind, "protocol": protocol, "overrides": overrides,
            "config": dataclasses.asdict(cfg)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m algos", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="every searcher with its kind and protocols")
    show = sub.add_parser("show", help="the resolved hyper-parameters of one searcher under a protocol")
    show.add_argument("algo", help=f"one of {', '.join(SEARCHERS)}")
    show.add_argument("--protocol", default="nb201", help=f"one of {', '.join(PROTOCOLS)} (default nb201)")
    show.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override (repeat)")
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            for name in SEARCHERS:
                cls = get_searcher(name)
                print(f"{name:<12} {cls.kind:<15} protocols: {', '.join(cls.PRESETS)}")
            return 0
        overrides = parse_assignments(args.set)
        print(json.dumps(_config_dict(get_searcher(args.algo), args.protocol, overrides), indent=2, default=str))
        return 0
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
