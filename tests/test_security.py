"""Secrets at rest and the production HTTP settings (issue 14, items 8 and 9): the data
directory and the secrets in it are private to the account Tidegate runs as; with debug off
the portal passes ``check --deploy``, answers with HSTS, Secure cookies and the CSP, sends
plain-HTTP visitors to HTTPS, and still serves gateways their snapshot over plain HTTP."""

import json
import os
import secrets
import stat
import subprocess
import sys

import pytest
import requests

from testsupport.stack import ROOT, free_port, stop_process_group, wait_until

SECRET_KEY = secrets.token_urlsafe(64)
GATEWAY_TOKEN = secrets.token_urlsafe(32)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def env(data_dir, **extra) -> dict:
    return {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "TIDEGATE_DEBUG": "1",
        "TIDEGATE_DATA_DIR": str(data_dir),
        **extra,
    }


def production_env(data_dir, **extra) -> dict:
    """Debug off, with real secrets, as in deploy/env.example."""
    return env(
        data_dir,
        TIDEGATE_DEBUG="0",
        TIDEGATE_SECRET_KEY=SECRET_KEY,
        TIDEGATE_GATEWAY_TOKEN=GATEWAY_TOKEN,
        **extra,
    )


def manage(environ, *args) -> subprocess.CompletedProcess:
    # umask 022, the usual one: what the files get is then Tidegate's doing.
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        umask=0o022,
    )


def spawn(environ, log, *cmd) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, *cmd],
        cwd=ROOT,
        env=environ,
        stdout=open(log, "wb"),  # noqa: SIM115 - closed with the process
        stderr=subprocess.STDOUT,
        start_new_session=True,
        umask=0o022,
    )


stop = stop_process_group


@pytest.mark.e2e
def directives(response) -> dict[str, str]:
    """The response's Content-Security-Policy, directive by directive."""
    parts = (d.strip().split(" ", 1) for d in response.headers["Content-Security-Policy"].split(";"))
    return {p[0]: p[1] if len(p) > 1 else "" for p in parts if p[0]}


def test_a_fresh_data_directory_and_its_secrets_are_private(tmp_path):
    """Set up from nothing, the data directory is 0700, the database 0600 and the
    gateway's TLS and test-key signing keys 0600: nobody else on the machine reads them."""
    data = tmp_path / "var"
    out = manage(env(data), "migrate", "--no-input", "-v", "0")
    assert out.returncode == 0, out.stderr
    assert mode(data) == 0o700
    databases = sorted(p.name for p in data.iterdir() if p.name.startswith("db.sqlite3"))
    assert databases and "db.sqlite3" in databases
    for name in databases:  # the database and whichever side files SQLite left
        assert mode(data / name) == 0o600, name

    port, tls_port = free_port(), free_port()
    gateway = spawn(
        env(data), tmp_path / "gateway.log", "manage.py", "rungateway", "--port", str(port), "--tls-port", str(tls_port)
    )
    try:
        # Both keys are made at start, each moved into place whole.
        secrets_made = [data / "tls" / "gateway.key", data / "gateway" / "testkey-jwk.json"]
        wait_until(lambda: all(p.exists() for p in secrets_made), 30, what="gateway keys")
    finally:
        stop(gateway)
    assert mode(data / "tls" / "gateway.key") == 0o600
    assert mode(data / "tls") == 0o700
    assert mode(data / "gateway" / "testkey-jwk.json") == 0o600
    assert mode(data) == 0o700


def test_a_stale_temporary_file_with_a_loose_mode_never_loosens_a_secret(tmp_path):
    """A crash can leave a half-written temporary file beside a secret, and a copy or an older
    version can leave it 0644. The gateway's test-key signing key written at start is still
    0600: the temporary file it writes through is always a new one of its own."""
    data = tmp_path / "var"
    assert manage(env(data), "migrate", "--no-input", "-v", "0").returncode == 0
    (data / "gateway").mkdir(mode=0o700)
    stale = data / "gateway" / "testkey-jwk.tmp"  # the name the key used to be written through
    stale.write_text("half a key")
    os.chmod(stale, 0o644)
    port, tls_port = free_port(), free_port()
    gateway = spawn(
        env(data), tmp_path / "gateway.log", "manage.py", "rungateway", "--port", str(port), "--tls-port", str(tls_port)
    )
    try:
        key = data / "gateway" / "testkey-jwk.json"
        wait_until(key.exists, 30, what="the test-key signing key")
    finally:
        stop(gateway)
    assert mode(key) == 0o600
    assert json.loads(key.read_text())["kty"] == "RSA"  # whole, not the stale half


def test_loose_modes_found_at_start_are_tightened_with_a_warning(tmp_path):
    """A data directory copied in with 0755 and secrets with 0644 (an older version, a
    backup restored) is tightened at the next start, and the log says what was found."""
    data = tmp_path / "var"
    assert manage(env(data), "migrate", "--no-input", "-v", "0").returncode == 0
    (data / "tls").mkdir()
    (data / "tls" / "gateway.key").write_text("-----BEGIN PRIVATE KEY-----\n")
    os.chmod(data / "tls" / "gateway.key", 0o644)
    os.chmod(data / "db.sqlite3", 0o644)
    os.chmod(data, 0o755)

    out = manage(env(data), "check")
    assert out.returncode == 0, out.stderr
    log = out.stderr
    assert f"directory {data} was mode 0755" in log
    assert f"database file {data / 'db.sqlite3'} was mode 0644" in log
    assert f"secret file {data / 'tls' / 'gateway.key'} was mode 0644" in log
    assert "WARNING" in log
    assert mode(data) == 0o700
    assert mode(data / "db.sqlite3") == 0o600
    assert mode(data / "tls" / "gateway.key") == 0o600

    # Once tight, nothing more to say.
    again = manage(env(data), "check")
    assert "was mode" not in again.stderr


def test_check_deploy_is_clean_with_debug_off(tmp_path):
    """`manage.py check --deploy` finds nothing to warn about with debug off and real
    secrets, directly on TLS or behind a TLS-terminating proxy."""
    for extra in ({}, {"TIDEGATE_PROXY_SSL_HEADER": "X-Forwarded-Proto"}):
        out = manage(production_env(tmp_path / "var", **extra), "check", "--deploy", "--fail-level", "WARNING")
        assert out.returncode == 0, out.stdout + out.stderr
        assert "no issues" in out.stdout, out.stdout + out.stderr


@pytest.fixture
def production_portal(tmp_path):
    """The portal under Daphne with debug off, behind a (pretend) TLS-terminating proxy
    that sets X-Forwarded-Proto, with one user to sign in as."""
    data = tmp_path / "var"
    environ = production_env(data, TIDEGATE_PROXY_SSL_HEADER="X-Forwarded-Proto")
    assert manage(environ, "migrate", "--no-input", "-v", "0").returncode == 0
    created = manage(
        {**environ, "DJANGO_SUPERUSER_PASSWORD": "A-long-enough-pass-42"},
        "createsuperuser",
        "--no-input",
        "--username",
        "ops",
        "--email",
        "ops@example.com",
    )
    assert created.returncode == 0, created.stderr
    port = free_port()
    portal = spawn(
        environ,
        tmp_path / "portal.log",
        "-m",
        "daphne",
        "-b",
        "127.0.0.1",
        "-p",
        str(port),
        "tidegate.asgi:application",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        # /healthz answers over plain HTTP: load balancers probe it there.
        wait_until(lambda: requests.get(f"{url}/healthz", timeout=1).ok, 30, what="portal")
        yield {"url": url, "port": port, "env": environ, "tmp": tmp_path}
    finally:
        stop(portal)


@pytest.mark.e2e
def test_production_portal_answers_with_hsts_secure_cookies_and_csp(production_portal):
    url, port = production_portal["url"], production_portal["port"]
    https = {"X-Forwarded-Proto": "https"}

    # Over HTTPS (as the proxy tells): HSTS, the CSP, a Secure CSRF cookie.
    page = requests.get(f"{url}/login/", headers=https, allow_redirects=False, timeout=10)
    assert page.status_code == 200
    assert page.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    policy = directives(page)  # the directives' order is django-csp's, not asserted
    assert policy["default-src"] == "'self'" and policy["script-src"] == "'self'" and policy["object-src"] == "'none'"
    assert (
        policy["frame-ancestors"] == "'none'" and policy["form-action"] == "'self'" and policy["base-uri"] == "'self'"
    )
    csrf_cookie = page.cookies.get("csrftoken")
    assert csrf_cookie and next(c for c in page.cookies if c.name == "csrftoken").secure

    # Signing in sets a Secure session cookie.
    csrf_token = page.text.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    origin = f"https://127.0.0.1:{port}"
    signed_in = requests.post(
        f"{url}/login/",
        data={"username": "ops", "password": "A-long-enough-pass-42", "csrfmiddlewaretoken": csrf_token},
        headers={**https, "Origin": origin, "Referer": f"{origin}/login/", "Cookie": f"csrftoken={csrf_cookie}"},
        allow_redirects=False,
        timeout=10,
    )
    assert signed_in.status_code == 302, signed_in.text[:500]
    session = next(c for c in signed_in.cookies if c.name == "sessionid")
    assert session.secure and session.has_nonstandard_attr("HttpOnly")


@pytest.mark.e2e
def test_production_portal_sends_browsers_to_https_and_serves_gateways_over_plain_http(production_portal):
    """A browser on plain HTTP is sent to HTTPS; the gateway, which reaches the portal at
    http://127.0.0.1 (TIDEGATE_PORTAL_URL), still pulls its snapshot and posts analytics."""
    url, port, tmp = production_portal["url"], production_portal["port"], production_portal["tmp"]
    plain = requests.get(f"{url}/login/", allow_redirects=False, timeout=10)
    assert plain.status_code == 301
    assert plain.headers["Location"] == f"https://127.0.0.1:{port}/login/"

    auth = {"Authorization": f"Bearer {GATEWAY_TOKEN}"}
    pulled = requests.get(f"{url}/internal/gateway/snapshot", headers=auth, allow_redirects=False, timeout=10)
    assert pulled.status_code == 200 and pulled.json()["version"] >= 0
    batch = {"gatewayId": "plain-http-gateway", "rows": []}
    posted = requests.post(
        f"{url}/internal/gateway/analytics", headers=auth, json=batch, allow_redirects=False, timeout=10
    )
    assert posted.status_code == 200 and posted.json() == {"rows": 0}, posted.text[:300]

    gateway_port = free_port()
    gateway = spawn(
        {**production_portal["env"], "TIDEGATE_PORTAL_URL": url},
        tmp / "gateway.log",
        "manage.py",
        "rungateway",
        "--port",
        str(gateway_port),
        "--tls-port",
        "0",
    )
    try:
        health = wait_until(
            lambda: (
                (h := requests.get(f"http://127.0.0.1:{gateway_port}/health", timeout=1).json())["snapshotSource"]
                == "portal"
                and h
            ),
            30,
            what="gateway synced from the portal",
        )
        assert health["controlPlaneReachable"] is True
    finally:
        stop(gateway)


@pytest.mark.django_db
def test_the_live_console_may_connect_to_every_gateway_the_api_page_shows(client):
    """connect-src lets the API page's console reach each environment's gateway URLs it
    lists, not only the default one; only the sandboxed documentation frame may eval."""
    from publisher import services
    from publisher.models import Environment
    from tests import factories

    owner = factories.user("owner", roles=["creator", "publisher"])
    api = factories.published_api(owner)
    Environment.objects.create(name="Edge", display_name="Edge", vhost="edge.example.com", ws_port=9190, wss_port=9543)
    services.api_revision_deploy(
        api=api, revision=api.revisions.get(), environments=[{"name": "Edge"}], deployed_by=owner
    )
    client.force_login(owner)

    page = directives(client.get(f"/devportal/apis/{api.id}"))
    for origin in (
        "ws://localhost:9090",
        "wss://localhost:9095",
        "ws://edge.example.com:9190",
        "wss://edge.example.com:9543",
    ):
        assert origin in page["connect-src"].split(), page["connect-src"]
    assert page["script-src"] == "'self'" and page["frame-ancestors"] == "'none'"

    frame = client.get(f"/devportal/apis/{api.id}/documentation")
    policy = directives(frame)
    assert policy["sandbox"] == "allow-scripts" and policy["frame-ancestors"] == "'self'"
    assert "'unsafe-eval'" in policy["script-src"] and "'unsafe-inline'" not in policy["script-src"]
    assert frame.headers["X-Frame-Options"] == "SAMEORIGIN"


@pytest.mark.django_db
def test_a_deployment_vhost_never_writes_a_directive_into_the_api_pages_policy(client):
    """Issue 14 follow-up, F8: a vhost with '; script-src-elem ...' in it is refused at deploy
    (400), and one stored before vhosts were checked is left out of connect-src, so the API
    page's policy keeps only its own directives."""
    from rest_framework.test import APIClient

    from publisher.models import Deployment
    from tests import factories

    owner = factories.user("owner", roles=["creator", "publisher"])
    api = factories.published_api(owner)
    evil = "evil.example; script-src-elem * 'unsafe-inline'; x"
    rest = APIClient()
    rest.force_authenticate(owner)
    resp = rest.post(
        f"/api/am/publisher/v4/apis/{api.id}/deploy-revision?revisionId={api.revisions.get().id}",
        [{"name": "Default", "vhost": evil}],
        format="json",
    )
    assert resp.status_code == 400, resp.content
    assert Deployment.objects.get(api=api).vhost == "localhost"

    Deployment.objects.filter(api=api).update(vhost=evil)  # as a row stored before the check
    client.force_login(owner)
    policy = client.get(f"/devportal/apis/{api.id}").headers["Content-Security-Policy"]
    assert "script-src-elem" not in policy and "evil.example" not in policy and "unsafe-inline'; x" not in policy
    directives = [d.strip().split(" ", 1)[0] for d in policy.split(";") if d.strip()]
    assert len(directives) == len(set(directives)), policy
