"""docs/deploy.md followed as a script would: the shipped files (deploy/env.example,
deploy/nginx-portal.conf, deploy/nginx-stream.conf, deploy/Procfile, deploy/tidegate-manage)
filled in with host names, secrets, paths and (free) ports only; PostgreSQL and Redis started
here; TLS with a certificate made here. Then the promises of the outage table are checked
against /health at each step. The docs and this test change together."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import os
import re
import secrets
import shutil
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from testsupport import documents, flow, wsclient
from testsupport.flow import DEV
from testsupport.stack import ROOT, free_port, stop_process_group, wait_until

pytestmark = pytest.mark.e2e

DEPLOY = ROOT / "deploy"
HOST = "localhost"  # stands for portal.example.com and gateway.example.com: resolvable here


def _certificate(directory: Path) -> Path:
    """A self-signed certificate for HOST (and 127.0.0.1) at ssl/HOST.{crt,key}."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(HOST), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir()
    (directory / f"{HOST}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / f"{HOST}.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return directory / f"{HOST}.crt"


def _fill(text: str, *replacements: tuple[str, str]) -> str:
    for old, new in replacements:
        assert old in text, f"the shipped file no longer says {old!r}: update docs/deploy.md and this test"
        text = text.replace(old, new)
    return text


def _set(text: str, key: str, value: str) -> str:
    assert re.search(rf"^{key}=", text, re.M), f"deploy/env.example has no {key}"
    return re.sub(rf"^{key}=.*$", lambda _: f"{key}={value}", text, flags=re.M)


def _env_file(path: Path) -> dict[str, str]:
    """What systemd's EnvironmentFile= makes of it."""
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))
    return dict(pairs)


class Services:
    """The processes this deployment runs, each in its own session, logs in ``logs``."""

    def __init__(self, logs: Path):
        self.logs = logs
        self.running: dict[str, subprocess.Popen] = {}
        self.commands: dict[str, tuple[list[str], dict]] = {}

    def start(self, name: str, cmd: list[str], env: dict) -> None:
        self.commands[name] = (cmd, env)
        fh = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.running[name] = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
        )

    def restart(self, name: str) -> None:
        self.start(name, *self.commands[name])

    def stop(self, name: str) -> None:
        stop_process_group(self.running.pop(name), timeout=15)

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        for name in reversed(list(self.running)):
            self.stop(name)


def _health(port: int) -> dict:
    return requests.get(f"http://127.0.0.1:{port}/health", timeout=2).json()


def _pulls(port: int) -> float:
    """How many times the gateway on ``port`` has pulled (its /metrics)."""
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    return sum(float(n) for n in re.findall(r"^tidegate_sync_pulls_total\{[^}]*\} (\S+)$", text, re.M))


class PushWatch(threading.Thread):
    """Samples pushConnected on every gateway until stopped."""

    def __init__(self, ports: list[int]):
        super().__init__(daemon=True)
        self.ports, self.samples, self.done = ports, [], threading.Event()

    def run(self):
        while not self.done.is_set():
            for port in self.ports:
                with contextlib.suppress(requests.RequestException):
                    self.samples.append((time.monotonic(), port, _health(port)["pushConnected"]))
            self.done.wait(0.1)


@pytest.fixture
def deployment(tmp_path, postgres_url):
    """docs/deploy.md "From scratch", on this machine, on free ports."""
    ports = {name: free_port() for name in ("portal", "gw1", "gw2", "ws", "wss", "http", "https", "backend", "redis")}
    # Step 3: a database and its owner; Redis. (Steps 1-2, packages and the service user: CI runs as root.)
    import psycopg

    db_password = secrets.token_urlsafe(16)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE tidegate LOGIN PASSWORD '{db_password}'")
        conn.execute("CREATE DATABASE tidegate_prod OWNER tidegate")
    pg = postgres_url.rsplit("@", 1)[1].split("/", 1)[0]
    from conftest import start_redis

    redis_dir = tmp_path / "redis"
    redis_dir.mkdir()
    redis_url, redis = start_redis(redis_dir, ports["redis"])

    # Step 4: /etc/tidegate/env from deploy/env.example: host names, secrets, where things are.
    env_text = (DEPLOY / "env.example").read_text()
    env_text = _fill(
        env_text,
        ("portal.example.com", HOST),
        ("gateway.example.com", HOST),
        ("http://127.0.0.1:8000", f"http://127.0.0.1:{ports['portal']}"),
        (f"ws://{HOST}:9090", f"ws://{HOST}:{ports['ws']}"),
        (f"wss://{HOST}:9095", f"wss://{HOST}:{ports['wss']}"),
    )
    for key, value in {
        "TIDEGATE_SECRET_KEY": secrets.token_urlsafe(50),
        "TIDEGATE_GATEWAY_TOKEN": secrets.token_urlsafe(32),
        "DATABASE_URL": f"postgres://tidegate:{db_password}@{pg}/tidegate_prod",
        "REDIS_URL": redis_url,
        "TIDEGATE_DATA_DIR": str(tmp_path / "var"),
        "TIDEGATE_STATIC_ROOT": str(tmp_path / "staticfiles"),
    }.items():
        env_text = _set(env_text, key, value)
    env_path = tmp_path / "env"
    env_path.write_text(env_text)
    os.chmod(env_path, 0o640)
    (tmp_path / "var").mkdir(mode=0o700)  # the unit files' StateDirectory=

    # Step 5: manage.py with that environment (deploy/tidegate-manage), and nothing else.
    manage_env = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8", "TIDEGATE_ENV_FILE": str(env_path)}

    def manage(*args: str, **extra: str) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [str(DEPLOY / "tidegate-manage"), *args],
            env={**manage_env, **extra},
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, f"tidegate-manage {' '.join(args)}: {done.stdout}{done.stderr}"
        return done

    checked = manage("check", "--deploy")
    assert "System check identified no issues" in checked.stdout, checked.stdout + checked.stderr
    manage("migrate", "--no-input", "-v", "0")
    manage("collectstatic", "--no-input", "-v", "0")
    password = secrets.token_urlsafe(16)
    manage(
        "createsuperuser",
        "--no-input",
        "--username",
        "ops",
        "--email",
        "ops@example.com",
        DJANGO_SUPERUSER_PASSWORD=password,
    )

    # Steps 6-9: TLS certificates, nginx with the shipped configs, the services of the Procfile.
    cert = _certificate(tmp_path / "ssl")
    portal_conf = _fill(
        (DEPLOY / "nginx-portal.conf").read_text(),
        ("portal.example.com", HOST),
        ("listen 80;", f"listen 127.0.0.1:{ports['http']};"),
        ("listen 443 ssl;", f"listen 127.0.0.1:{ports['https']} ssl;"),
        ("http://127.0.0.1:8000", f"http://127.0.0.1:{ports['portal']}"),
        ("/etc/ssl/tidegate/", f"{tmp_path}/ssl/"),
    )
    (tmp_path / "tidegate-portal.conf").write_text(portal_conf)
    # What Debian's /etc/nginx/nginx.conf is around conf.d/*.conf.
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/nginx-error.log;\nevents {{}}\n"
        f"http {{\n    include {tmp_path}/tidegate-portal.conf;\n}}\n"
    )
    stream_conf = _fill(
        (DEPLOY / "nginx-stream.conf").read_text(),
        ("gateway.example.com", HOST),
        ("127.0.0.1:9190", f"127.0.0.1:{ports['gw1']}"),
        ("127.0.0.1:9191", f"127.0.0.1:{ports['gw2']}"),
        ("listen 9095 ssl;", f"listen 127.0.0.1:{ports['wss']} ssl;"),
        ("listen 9090;", f"listen 127.0.0.1:{ports['ws']};"),
        ("/etc/ssl/tidegate/", f"{tmp_path}/ssl/"),
        ("worker_processes auto;", "worker_processes 1;"),
    )
    (tmp_path / "nginx-stream.conf").write_text(stream_conf)

    services = Services(tmp_path)
    service_env = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8", **_env_file(env_path)}
    procfile = _fill(
        (DEPLOY / "Procfile").read_text(),
        ("-p 8000 ", f"-p {ports['portal']} "),
        ("--port 9190 ", f"--port {ports['gw1']} "),
        ("--port 9191 ", f"--port {ports['gw2']} "),
    )
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    state: dict = {}
    try:
        services.start(
            "backend",
            [str(ROOT / ".venv/bin/python"), "manage.py", "demo_backend", "--port", str(ports["backend"])],
            {**os.environ, "TIDEGATE_DEBUG": "1", "TIDEGATE_DATA_DIR": str(tmp_path / "backend")},
        )
        for line in procfile.splitlines():
            if line and not line.startswith("#"):
                name, command = line.split(":", 1)
                services.start(name, command.split(), service_env)
        services.start("nginx-portal", [nginx, "-c", f"{tmp_path}/nginx.conf", "-g", "daemon off;"], os.environ)
        services.start(
            "nginx-stream",
            [nginx, "-c", f"{tmp_path}/nginx-stream.conf", "-g", f"daemon off; pid {tmp_path}/stream.pid;"],
            os.environ,
        )
        state.update(
            ports=ports,
            services=services,
            env=service_env,
            password=password,
            cert=cert,
            redis=redis,
            redis_dir=redis_dir,
            backend=f"ws://127.0.0.1:{ports['backend']}",
            wrong_dir=tmp_path / "wrong-token",
        )
        yield state
    finally:
        services.stop_all()
        # The Redis a test restarted is in the dict now, not in ``redis``: each run left one behind.
        for proc in {id(p): p for p in (redis, state.get("redis"))}.values():
            if proc is not None:
                with contextlib.suppress(Exception):
                    proc.kill()
                    proc.wait(10)


def test_docs_deploy_md_followed_literally_gives_a_working_tls_deployment_that_tells_the_truth(deployment):
    ports, services = deployment["ports"], deployment["services"]
    gateways = [ports["gw1"], ports["gw2"]]
    portal = f"https://{HOST}:{ports['https']}"
    tls = ssl.create_default_context(cafile=str(deployment["cert"]))
    session = requests.Session()
    session.auth = ("ops", deployment["password"])
    session.verify = str(deployment["cert"])
    session.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise replace session.verify
    session.base = portal

    # Up: the portal through nginx over HTTPS; both gateways serving what the portal has,
    # each subscribed to pushes through Redis.
    wait_until(lambda: session.get(f"{portal}/healthz", timeout=2).ok, 60, what="portal through nginx")
    for port in gateways:
        wait_until(lambda p=port: _health(p)["status"] == "UP" and _health(p)["pushConnected"], 60, what="gateway")
    watch = PushWatch(gateways)
    watch.start()
    watched_from = time.monotonic()

    # HTTPS as the security settings promise, static files collected and served.
    plain = requests.get(f"http://{HOST}:{ports['http']}/login/", allow_redirects=False, timeout=5)
    assert plain.status_code == 301 and plain.headers["Location"].startswith(f"https://{HOST}/login/")
    page = session.get(f"{portal}/login/", timeout=10)
    assert page.status_code == 200 and "max-age=31536000" in page.headers["Strict-Transport-Security"]
    assert next(c for c in page.cookies if c.name == "csrftoken").secure
    policy = page.headers["Content-Security-Policy"]
    assert f"wss://{HOST}:{ports['wss']}" in policy and f"ws://{HOST}:{ports['ws']}" in policy
    css = re.search(r'href="(/static/[^"]+\.css)"', page.text).group(1)
    assert session.get(f"{portal}{css}", timeout=10).status_code == 200

    # A request for a host name the portal does not serve: 400, one log line, no traceback.
    assert (
        requests.get(f"http://127.0.0.1:{ports['portal']}/", headers={"Host": "elsewhere.example"}).status_code == 400
    )
    wait_until(lambda: "Invalid HTTP_HOST header" in services.log("portal"), 10, what="the refusal logged")

    # A gateway whose token is not the portal's says so once, naming the setting, and /health
    # tells why it cannot sync.
    wrong = free_port()
    services.start(
        "gateway-wrong-token",
        [".venv/bin/python", "manage.py", "rungateway", "--port", str(wrong), "--tls-port", "0"],
        {
            **deployment["env"],
            "TIDEGATE_GATEWAY_TOKEN": "not-the-portals",
            "TIDEGATE_DATA_DIR": str(deployment["wrong_dir"]),
        },
    )
    refused = wait_until(lambda: _health(wrong)["controlPlaneError"], 30, what="the refusal reported")
    assert "TIDEGATE_GATEWAY_TOKEN" in refused and _health(wrong)["controlPlaneReachable"] is False
    wait_until(lambda: _pulls(wrong) >= 3, 20, what="a few more pulls")
    assert services.log("gateway-wrong-token").count("TIDEGATE_GATEWAY_TOKEN") == 1
    services.stop("gateway-wrong-token")

    # Push stays connected while Redis is healthy and nothing changes (each change restarts
    # the wait): watched for longer than the 5 s wait in which redis-py's default read
    # timeout used to cut it, every 7 s or so.
    wait_until(lambda: time.monotonic() - watched_from > 8, 30, what="the observation window")
    watch.done.set()
    watch.join(5)
    dropped = [s for s in watch.samples if not s[2]]
    assert len({s[1] for s in watch.samples}) == 2 and not dropped, f"pushConnected false: {dropped[:5]}"

    # Publish an API; an application gets a token from /oauth2/token over HTTPS.
    api = flow.import_api(session, documents.chat_doc(deployment["backend"], "Prod"), context="/prod")
    flow.deploy_and_publish(session, api["id"])
    app = flow.application_with_token(session, "ProdApp", api["id"])
    keys = (app["keys"]["consumerKey"], app["keys"]["consumerSecret"])
    issued = requests.post(
        f"{portal}/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=keys,
        verify=session.verify,
        timeout=10,
    )
    assert issued.status_code == 200, issued.text
    token = issued.json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    # The Dev Portal shows the balancer's URLs, and clients reach the API there over wss.
    urls = flow.call(session, "GET", f"{DEV}/apis/{api['id']}")["endpointURLs"][0]["URLs"]
    assert urls == {"ws": f"ws://{HOST}:{ports['ws']}/prod/1.0.0", "wss": f"wss://{HOST}:{ports['wss']}/prod/1.0.0"}
    wss = urls["wss"] + "/plain"

    def echoes(url: str, auth: dict, text: str) -> bool:
        # websockets' asyncio client (testsupport/wsclient.py): its threading client lost a
        # handshake request over wss now and then (a 408 after 10 s, or a 5 s timeout), when
        # its reader thread and the sending thread used the one TLS connection at once.
        ssl_context = tls if url.startswith("wss") else None
        return wsclient.echo(url, text, headers=auth, ssl=ssl_context) == text

    wait_until(lambda: echoes(wss, headers, "over wss"), 15, what="the API served through the balancer")
    assert echoes(urls["ws"] + "/plain", headers, "over ws")

    # Revoking the token closes its connections.
    def revoke() -> None:
        requests.post(
            f"{portal}/oauth2/revoke", data={"token": token}, auth=keys, verify=session.verify, timeout=10
        ).raise_for_status()

    assert wsclient.close_code_after(wss, revoke, headers=headers, ssl=tls) == 4001

    # Redis away: gateways say so and keep relaying; the portal still issues tokens and
    # takes changes (gateways pull them), with a warning and no error.
    deployment["redis"].kill()
    deployment["redis"].wait(10)
    for port in gateways:
        wait_until(lambda p=port: not _health(p)["pushConnected"], 20, what="push reported down")
        assert _health(port)["controlPlaneReachable"] is True
    during = flow.application_with_token(session, "DuringRedisOutage", api["id"])
    again = requests.post(
        f"{portal}/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=keys,
        verify=session.verify,
        timeout=10,
    )
    assert again.status_code == 200, again.text
    wait_until(lambda: echoes(wss, during["headers"], "no redis"), 15, what="a change pulled without Redis")
    assert echoes(wss, {"Authorization": f"Bearer {again.json()['access_token']}"}, "new token")
    assert "could not push the configuration change" in services.log("portal")

    # Redis back: pushes resume.
    from conftest import start_redis

    deployment["redis"] = start_redis(deployment["redis_dir"], ports["redis"])[1]
    for port in gateways:
        wait_until(lambda p=port: _health(p)["pushConnected"], 30, what="push reconnected")

    # Portal away: gateways keep serving, say the control plane is unreachable; one restarted
    # meanwhile serves the snapshot it kept on disk.
    services.stop("portal")
    for port in gateways:
        wait_until(lambda p=port: not _health(p)["controlPlaneReachable"], 20, what="portal reported down")
    assert echoes(wss, during["headers"], "no portal")
    services.stop("gateway1")
    services.restart("gateway1")
    wait_until(lambda: _health(gateways[0])["status"] == "UP", 60, what="gateway restarted from disk")
    health = _health(gateways[0])
    assert (health["snapshotSource"], health["controlPlaneReachable"]) == ("disk", False)
    for _ in range(4):  # least_conn spreads these over both gateways, the restarted one too
        assert echoes(wss, during["headers"], "from disk")

    # Portal back, nothing changed meanwhile: both gateways say the portal is reachable again
    # and the restarted one that its snapshot is the portal's.
    services.restart("portal")
    for port in gateways:
        wait_until(
            lambda p=port: (h := _health(p))["controlPlaneReachable"] and h["snapshotSource"] == "portal",
            60,
            what="control plane reported back",
        )

    # Quiet, truthful logs: no traceback anywhere, no access line for the gateways' polls,
    # a JSON access line for what people did, no missing static directory.
    portal_log = services.log("portal")
    for name in ("portal", "gateway1", "gateway2"):
        assert "Traceback" not in services.log(name), services.log(name)[-3000:]
    access = [json.loads(line) for line in portal_log.splitlines() if line.startswith("{")]
    paths = {entry["path"] for entry in access if entry.get("logger") == "tidegate.access.portal"}
    assert f"/api/am/publisher/v4/apis/{api['id']}/revisions" in paths
    assert not [p for p in paths if p.startswith("/internal/gateway/")]
    assert not re.search(r'"(GET|POST) /internal/gateway/', portal_log)  # nor Daphne's access log
    assert "No directory at" not in portal_log
    assert "Bad Request" not in services.log("gateway1") + services.log("gateway2")


def test_a_portal_url_the_portal_would_refuse_stops_the_start_naming_both_settings(tmp_path):
    """deploy/env.example used to allow only portal.example.com while gateways pulled from
    http://127.0.0.1:8000: every pull got 400 and no gateway ever served. Now neither the
    portal nor a gateway starts with settings that disagree, and the message says which."""
    import sys

    environ = {
        "PATH": os.environ["PATH"],
        "TIDEGATE_DEBUG": "0",
        "TIDEGATE_SECRET_KEY": secrets.token_urlsafe(50),
        "TIDEGATE_GATEWAY_TOKEN": secrets.token_urlsafe(32),
        "TIDEGATE_DATA_DIR": str(tmp_path / "var"),
        "TIDEGATE_ALLOWED_HOSTS": "portal.example.com",
        "TIDEGATE_PORTAL_URL": "http://127.0.0.1:8000",
    }
    for args in (["check"], ["rungateway", "--port", str(free_port()), "--tls-port", "0"]):
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60
        )
        assert done.returncode != 0
        assert "TIDEGATE_PORTAL_URL (http://127.0.0.1:8000)" in done.stderr and "TIDEGATE_ALLOWED_HOSTS" in done.stderr
    fixed = {**environ, "TIDEGATE_ALLOWED_HOSTS": "portal.example.com, 127.0.0.1"}
    done = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=fixed, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


def test_the_shared_cache_counts_locally_while_redis_is_away(tmp_path, caplog):
    """With REDIS_URL set the portal's cache is Redis; a Redis outage used to turn every
    request touching it into a 500 (redis.exceptions.ConnectionError). Now it counts in the
    process, with one warning per outage, and returns to Redis once it answers again."""
    import logging

    from conftest import start_redis
    from portal.deployment import ResilientRedisCache

    url, redis = start_redis(tmp_path)
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    clock = [1000.0]
    try:
        cache = ResilientRedisCache(url, {"OPTIONS": {"socket_connect_timeout": 2}})
        cache.clock = lambda: clock[0]
        cache.set("failures", 1)
        assert cache.incr("failures") == 2
        redis.kill()
        redis.wait(10)
        with caplog.at_level(logging.WARNING, logger="tidegate.deployment"):
            assert cache.add("failures", 0) is True  # the local count starts afresh
            assert cache.incr("failures") == 1
            assert cache.incr("failures") == 2
            assert cache.get("failures") == 2
            clock[0] += ResilientRedisCache.RETRY_SECONDS + 1  # Redis is tried again: still away
            assert cache.incr("failures") == 3
        warnings = [r for r in caplog.records if r.name == "tidegate.deployment"]
        assert len(warnings) == 1 and "counting in this process" in warnings[0].getMessage()
        assert not any(r.exc_info for r in caplog.records)
        redis = start_redis(tmp_path, port)[1]
        clock[0] += ResilientRedisCache.RETRY_SECONDS + 1
        assert cache.get("failures") is None  # Redis's again (restarted empty), not the local 3
    finally:
        redis.kill()
        redis.wait(10)
