"""``make run`` refuses to start when one of its ports is taken, instead of printing a
command for somebody else's server."""

import os
import socket
import subprocess
import sys

from testsupport.stack import ROOT, free_port


def test_runall_stops_with_a_clear_message_when_a_port_is_in_use(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            **os.environ,
            "TIDEGATE_DEBUG": "1",
            "TIDEGATE_DATA_DIR": str(tmp_path),
            # Every other port free, so only the taken one is reported whatever else runs here.
            "TIDEGATE_GATEWAY_WS_PORT": str(free_port()),
            "TIDEGATE_GATEWAY_WSS_PORT": str(free_port()),
        }
        out = subprocess.run(
            [sys.executable, "manage.py", "runall", "--portal-port", str(port), "--backend-port", str(free_port())],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert out.returncode == 1
    assert f"Cannot start: portal port {port} already in use (" in out.stderr
    assert "wscat" not in out.stdout
