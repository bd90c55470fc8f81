"""``make run``: the portal (Daphne), the gateway (Uvicorn) and the demo echo backend in
one terminal. Prints the URLs and a ready wscat command; Ctrl-C stops all three."""

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from devportal.models import Application
from keymanager.models import KeyType
from keymanager.server import token_issue


def _in_use(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def _wait_http(url: str, seconds: float, procs) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            return False
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - our own http:// URL
                if resp.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


class Command(BaseCommand):
    help = "Run the portal, the gateway and the demo echo backend together."

    def add_arguments(self, parser):
        parser.add_argument("--portal-port", type=int, default=8000)
        parser.add_argument("--backend-port", type=int, default=8080)

    def handle(self, *args, portal_port, backend_port, **options):
        conf = settings.TIDEGATE
        wanted = {
            "portal": ("127.0.0.1", portal_port),
            "demo backend": ("127.0.0.1", backend_port),
            "gateway (ws)": (conf["GATEWAY_HOST"], conf["GATEWAY_WS_PORT"]),
            "gateway (wss)": (conf["GATEWAY_HOST"], conf["GATEWAY_WSS_PORT"]),
        }
        busy = [f"{name} port {port}" for name, (host, port) in wanted.items() if port and _in_use(host, port)]
        if busy:
            # Another process answering there would pass for ours (and its tokens would not fit).
            self.stderr.write(f"Cannot start: {', '.join(busy)} already in use (is Tidegate already running?).")
            sys.exit(1)
        python = sys.executable
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        commands = {
            "backend": [python, "manage.py", "demo_backend", "--port", str(backend_port)],
            "portal": [
                python,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(portal_port),
                "-v",
                "0",
                "tidegate.asgi:application",
            ],
            "gateway": [python, "manage.py", "rungateway"],
        }
        procs = []
        for name, cmd in commands.items():
            procs.append(subprocess.Popen(cmd, env=env, cwd=settings.BASE_DIR, start_new_session=True))
            if name == "portal" and not _wait_http(f"http://127.0.0.1:{portal_port}/healthz", 30, procs):
                return self._stop(procs, "the portal did not start")
        gw = f"http://{conf['GATEWAY_HOST']}:{conf['GATEWAY_WS_PORT']}/health"
        if not _wait_http(gw, 30, procs):
            return self._stop(procs, "the gateway did not start")

        self._banner(portal_port)
        stopping = []
        signal.signal(signal.SIGINT, lambda *a: stopping.append(1))
        signal.signal(signal.SIGTERM, lambda *a: stopping.append(1))
        while not stopping and all(p.poll() is None for p in procs):
            time.sleep(0.3)
        self._stop(procs, None if stopping else "a process exited")

    def _banner(self, portal_port):
        conf = settings.TIDEGATE
        admin = get_user_model().objects.filter(username="admin").first()
        app = Application.objects.filter(owner=admin, name="DefaultApplication").first() if admin else None
        client = app.oauth_clients.filter(key_type=KeyType.PRODUCTION).first() if app else None
        ws = f"ws://{conf['GATEWAY_VHOST']}:{conf['GATEWAY_WS_PORT']}"
        lines = [
            "",
            "Tidegate is running.",
            f"  Publisher   http://127.0.0.1:{portal_port}/publisher/   (admin / admin)",
            f"  Dev Portal  http://127.0.0.1:{portal_port}/devportal/",
            f"  Gateway     {ws}   wss://{conf['GATEWAY_VHOST']}:{conf['GATEWAY_WSS_PORT']}",
        ]
        if client:
            token = token_issue(client=client)["access_token"]
            lines += [
                "",
                "Try the demo API (type a message, see it echoed):",
                f"  npx wscat -c {ws}/notifications/1.0.0/notifications -H {shlex.quote('Authorization: Bearer ' + token)}",
            ]
        lines += ["", "Ctrl-C stops everything.", ""]
        self.stdout.write("\n".join(lines))
        self.stdout.flush()

    def _stop(self, procs, problem):
        if problem:
            self.stderr.write(f"Stopping: {problem}.")
        deadline = time.monotonic() + 10
        # One at a time, the gateway first: stopped after the portal it would warn that the
        # portal went away while it drains.
        for p in reversed(procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        if problem:
            sys.exit(1)
