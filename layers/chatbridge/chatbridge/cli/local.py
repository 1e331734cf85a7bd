"""``chatbridge local``: the whole system on this machine, read from template.yaml, until Ctrl-C."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

TEMPLATE_ENV = "CHATBRIDGE_TEMPLATE"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "local", help="run API, functions, tables, queues and pollers locally on moto (no Docker, no account)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to bind (default 127.0.0.1; 0.0.0.0 exposes it to your network)")
    parser.add_argument("--port", type=int, default=3000, help="API port (default 3000; 0 picks a free one)")
    parser.add_argument("--seed", action="store_true",
                        help="store a demo open-wa webhook, REST API and outgoing webhook, print a curl to try")
    parser.add_argument("--data", type=Path, metavar="DIR",
                        help="keep tables, queues, secrets and media in DIR, written as they change (survives "
                             "kill -9 and a power cut; `make run` uses .chatbridge/)")
    parser.add_argument("--ephemeral", action="store_true",
                        help="keep nothing on disk, even if --data is given (a throwaway run)")
    parser.add_argument("--template", type=Path, help=f"SAM template (default ${TEMPLATE_ENV}, ./template.yaml, "
                                                      "or the project's)")
    parser.add_argument("--json-logs", action="store_true", help="keep the functions' raw JSON log lines")
    parser.set_defaults(func=run)


def find_template(explicit: Path | None) -> Path:
    candidates = [explicit] if explicit else [
        Path(os.environ[TEMPLATE_ENV]) if os.environ.get(TEMPLATE_ENV) else None,
        Path.cwd() / "template.yaml",
        Path(__file__).resolve().parents[4] / "template.yaml",  # the checkout this package is installed from
    ]
    for candidate in candidates:
        if candidate is not None and candidate.is_file():
            return candidate
    raise SystemExit(f"error: no template found ({explicit or 'looked for ./template.yaml'}); pass --template")


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    from chatbridge.local.cfn import TemplateError
    from chatbridge.local.logs import configure_stack_logging
    from chatbridge.local.runtime import FunctionError
    from chatbridge.local.stack import LocalStack, StackOptions
    from chatbridge.local.state import StateError
    from chatbridge.local.store import StoreError

    log = configure_stack_logging(json_logs=args.json_logs)
    template = find_template(args.template)
    stopping = threading.Event()

    def request_stop(signum: int, _frame: Any) -> None:
        if stopping.is_set():
            os._exit(130)  # a second Ctrl-C: the user really means it
        log.info("stopping (%s)...", signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    stack = LocalStack(StackOptions(template_path=template, host=args.host, port=args.port,
                                    json_logs=args.json_logs,
                                    data_dir=None if args.ephemeral else args.data))
    try:
        stack.start()
    except OSError as exc:
        stack.stop()
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}"
              " (another `chatbridge local` running? try --port 0)", file=sys.stderr)
        return 1
    except (TemplateError, FunctionError, StateError, StoreError) as exc:
        stack.stop()
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        if args.seed:
            from chatbridge.cli.client import ApiError
            from chatbridge.local.seed import seed, try_it

            try:
                seed(stack.url, stack.echo_url)
            except ApiError as error:
                print(f"error: --seed could not store the demo through the admin API: {error}", file=sys.stderr)
                return 1
        _say(f"chatbridge local ready on {stack.url}")
        if args.seed:
            _say(try_it(stack.url, stack.echo_url))
        if args.host not in ("127.0.0.1", "localhost", "::1"):
            log.warning("listening on %s: anyone who can reach this machine can use the admin API", args.host)
        # A timed wait, never a bare one: CPython runs signal handlers only in the main thread, between
        # bytecodes; a SIGINT/SIGTERM the kernel hands to a poller thread leaves a main thread blocked in an
        # untimed wait asleep, so the stack never stopped until a second signal came.
        while not stopping.wait(0.5):
            pass
    finally:
        stack.stop()
        log.info("stopped")
    return 0


def _say(text: str) -> None:
    """One write per announcement: ``print`` writes text and newline apart, so a log line from a poller
    thread could land between them and break the readiness line that scripts and tests wait for."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
