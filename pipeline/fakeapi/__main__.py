"""``python -m pipeline.fakeapi --port 8765``: run the fake platform API in the foreground."""

from __future__ import annotations

import argparse

from pipeline.fakeapi import DEFAULT_TOKEN, FakeApiServer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipeline.fakeapi", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="Bearer token the API accepts")
    args = parser.parse_args(argv)
    server = FakeApiServer(args.host, args.port, args.token)
    print(f"fake platform API on {server.url} (Ctrl-C to stop)", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
