"""``python manage.py mg``: the standalone gateway's command-line client, with ``apictl mg``'s
verbs for those who do not have apictl.

    python manage.py mg login --host https://localhost:9843 -u admin -p admin -k
    python manage.py mg deploy api -f Notifications-1.0.0.zip [--override] -k
    python manage.py mg get apis -k
    python manage.py mg undeploy api -n Notifications -v 1.0.0 -k
"""

import io
import json
import os
import zipfile
from pathlib import Path

import requests
from django.core.management.base import BaseCommand, CommandError

from gateway.standalone import ADAPTER_BASE as BASE


def _config_path() -> Path:
    return Path(os.environ.get("TIDEGATE_MG_CONFIG", Path.home() / ".config" / "tidegate" / "mg.json"))


def _project_zip(path: Path) -> bytes:
    """A project given as a zip is sent as it is; a folder is zipped first (as apictl does)."""
    if path.is_file():
        return path.read_bytes()
    if not path.is_dir():
        raise CommandError(f"{path} is neither a project folder nor an archive")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(path.rglob("*")):
            if file.is_file():
                archive.write(file, f"{path.name}/{file.relative_to(path)}")
    return buffer.getvalue()


class Command(BaseCommand):
    help = "Deploy, list and undeploy API projects on a standalone Tidegate gateway (apictl mg verbs)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True)
        login = sub.add_parser("login")
        login.add_argument("--host", required=True, help="adapter URL, e.g. https://localhost:9843")
        login.add_argument("-u", "--username", required=True)
        login.add_argument("-p", "--password", required=True)
        deploy = sub.add_parser("deploy")
        deploy.add_argument("kind", choices=["api"])
        deploy.add_argument("-f", "--file", required=True, help="project folder or archive (zip)")
        deploy.add_argument("-o", "--override", action="store_true", help="replace an API already deployed")
        get = sub.add_parser("get")
        get.add_argument("kind", choices=["apis"])
        undeploy = sub.add_parser("undeploy")
        undeploy.add_argument("kind", choices=["api"])
        undeploy.add_argument("-n", "--name", required=True)
        undeploy.add_argument("-v", "--version", dest="api_version", required=True)
        for p in (login, deploy, get, undeploy):
            p.add_argument("-k", "--insecure", action="store_true", help="accept the adapter's self-signed certificate")

    def handle(self, *args, verb, insecure, **options):
        verify = not insecure
        if insecure:  # asked for, like curl -k: no warning on every request
            import urllib3

            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        if verb == "login":
            resp = requests.post(
                f"{options['host'].rstrip('/')}{BASE}/oauth2/token",
                auth=(options["username"], options["password"]),
                verify=verify,
                timeout=10,
            )
            if resp.status_code != 200:
                raise CommandError(f"login refused: {self._reason(resp)}")
            path = _config_path()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"host": options["host"].rstrip("/"), "token": resp.json()["accessToken"]}))
            path.chmod(0o600)
            self.stdout.write(f"Logged in to {options['host']}")
            return
        try:
            session = json.loads(_config_path().read_text())
        except (OSError, ValueError):
            raise CommandError("not logged in: run `mg login --host URL -u USER -p PASSWORD` first") from None
        url, headers = f"{session['host']}{BASE}/apis", {"Authorization": f"Bearer {session['token']}"}
        if verb == "deploy":
            path = Path(options["file"])
            resp = requests.post(
                url,
                params={"override": "true"} if options["override"] else None,
                headers=headers,
                files={
                    "file": (f"{path.name}.zip" if path.is_dir() else path.name, _project_zip(path), "application/zip")
                },
                verify=verify,
                timeout=60,
            )
            self._ok(resp, "deploy")
            self.stdout.write(resp.json()["info"])
        elif verb == "get":
            resp = requests.get(url, headers=headers, verify=verify, timeout=10)
            self._ok(resp, "list")
            self.stdout.write(f"{'NAME':<30} {'VERSION':<12} {'TYPE':<5} CONTEXT")
            for api in resp.json()["list"]:
                self.stdout.write(f"{api['apiName']:<30} {api['version']:<12} {api['apiType']:<5} {api['context']}")
        elif verb == "undeploy":
            resp = requests.delete(
                url,
                params={"apiName": options["name"], "version": options["api_version"]},
                headers=headers,
                verify=verify,
                timeout=10,
            )
            self._ok(resp, "undeploy")
            self.stdout.write(resp.json()["info"])

    def _ok(self, resp, what: str) -> None:
        if resp.status_code != 200:
            raise CommandError(f"{what} refused ({resp.status_code}): {self._reason(resp)}")

    @staticmethod
    def _reason(resp) -> str:
        try:
            return str(resp.json().get("description") or resp.text[:200])
        except ValueError:
            return str(resp.text[:200])
