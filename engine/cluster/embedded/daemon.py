"""The embedded cluster's daemon process: API server plus controllers, one per cluster state folder.

Started detached by `driftlab cluster up`; it tells its parent it is ready by writing to an inherited pipe, so
`up` returns the moment the API answers, without polling.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import importlib
import ipaddress
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from ... import paths
from . import tls
from .bootstrap import ensure_system_objects
from .catalog import Catalog, storage_key
from .record import DB_FILE, LOCK_FILE, LOG_FILE, read_record, write_record
from .resources import BUILTIN
from .rest import Api
from .server import ApiServer
from .store import DEFAULT_EVENT_WINDOW, Store
from .watch import Hub

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def listen_host(text: str) -> str:
    """An extra address to listen on: a specific interface's IP address, never all interfaces."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"the API listens on IP addresses, not {text!r}") from None
    if address.is_unspecified:
        raise argparse.ArgumentTypeError(f"the API never listens on all interfaces ({text}); name an address")
    return str(address)


def port_is_free(port: int) -> bool:
    """Whether we can listen on the port again; SO_REUSEADDR as the server uses, so TIME_WAIT does not count."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def build_api(state: Path) -> Api:
    window = int(os.environ.get("DRIFTLAB_WATCH_WINDOW", "0") or 0) or DEFAULT_EVENT_WINDOW
    store = Store(state / DB_FILE, event_window=window)
    catalog = Catalog()
    crd_type = next(t for t in BUILTIN if t.kind == "CustomResourceDefinition")
    for crd in store.list(storage_key(crd_type)):
        catalog.set_crd(crd)
    return Api(store, catalog, Hub())


async def serve(state: Path, name: str, ready_fd: int | None, hosts: Sequence[str] = ()) -> None:
    record = read_record(state)
    port = int(record.get("port") or 0)
    if not port or not port_is_free(port):
        port = free_port()
    credentials = tls.ensure(state, hosts)
    api = build_api(state)
    paths.make_private(state / DB_FILE)
    ensure_system_objects(api)
    server = ApiServer(api, f"{HOST}:{port}", credentials.token)
    runner = web.AppRunner(server.app, access_log=None, handle_signals=False, handler_cancellation=True)
    await runner.setup()
    context = credentials.server_context()
    for host in dict.fromkeys([HOST, *hosts]):
        site = web.TCPSite(runner, host, port, backlog=256, shutdown_timeout=2.0, ssl_context=context)
        await site.start()
    write_record(state, {"name": name, "pid": os.getpid(), "port": port, "hosts": list(hosts), "started": time.time()})
    if ready_fd is not None:
        os.write(ready_fd, b"ready\n")
        os.close(ready_fd)
    # The workload simulation is the slowest part of start-up, so it is imported in a thread once the API
    # answers; every controller lists what already exists when it starts, so nothing written meanwhile is missed.
    modules = (".controllers.registry", ".nodeports", ".settings")
    registry, nodeports, settings_module = await asyncio.to_thread(
        lambda: [importlib.import_module(name, __package__) for name in modules]
    )
    settings = settings_module.ClusterSettings.load(state)
    controllers = registry.build_controllers(api, settings)
    proxy = nodeports.NodePortProxy(api, settings)
    tasks = [asyncio.create_task(c.run()) for c in [*controllers, proxy]]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    api.hub.close_all()
    for task in tasks:
        task.cancel()
    proxy.close()
    await runner.cleanup()
    api.store.close()
    record = read_record(state)
    record.pop("pid", None)
    write_record(state, record)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="driftlab-embedded-daemon")
    parser.add_argument("--state", required=True, type=Path)
    parser.add_argument("--name", required=True)
    parser.add_argument("--ready-fd", type=int)
    parser.add_argument("--host", action="append", default=[], type=listen_host, help="Another address to serve on.")
    args = parser.parse_args(argv)
    paths.private_umask()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    paths.make_private(args.state / LOG_FILE)
    lock = open(args.state / LOCK_FILE, "w")  # noqa: SIM115 - held for the daemon's lifetime
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        print(f"another daemon already serves {args.state}", file=sys.stderr)
        return 3
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.state, args.name, args.ready_fd, args.host))
    return 0


if __name__ == "__main__":
    sys.exit(main())
