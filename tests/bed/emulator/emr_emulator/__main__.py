"""python -m emr_emulator --host 127.0.0.1 --port 0 [--port-file F]"""

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType

from moto.moto_server.werkzeug_app import MotoRequestHandler
from werkzeug.serving import make_server

from . import emr, fargate
from .app import EmulatorApp
from .settings import load_timings
from .strict import enabled_from_env


class _QuietHandler(MotoRequestHandler):
    """Logs only failed requests; a polling operator would otherwise fill the log."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if str(code)[:1] in ("4", "5") or code == "-":
            super().log_request(code, size)


def main() -> int:
    parser = argparse.ArgumentParser(prog="emr_emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--port-file", type=Path, help="write the bound port here once listening")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args()

    timings = load_timings()
    emr.install(timings)
    fargate.install(timings)
    strict = enabled_from_env()
    app = EmulatorApp(timings, strict_default=strict)
    handler = MotoRequestHandler if args.verbose else _QuietHandler
    server = make_server(args.host, args.port, app, threaded=True, request_handler=handler)
    port = server.server_address[1]

    def stop(_signum: int, _frame: FrameType | None) -> None:
        # serve_forever() returns once shutdown() is called from another thread; raising
        # here ends it from the main thread without waiting for a poll.
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    if args.port_file is not None:
        tmp = args.port_file.with_suffix(".tmp")
        tmp.write_text(f"{port}\n")
        tmp.replace(args.port_file)
    print(f"emr_emulator listening on http://{args.host}:{port} (timings {timings.as_dict()}, strict {strict})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
