"""API project archives in the layout WSO2's ``apictl`` uses, both ways.

``<Name>-<Version>/api.yaml`` (``type: api``, ``data: {...}``), ``Definitions/asyncapi.yaml``,
``api_meta.yaml`` and, for a revision, ``deployment_environments.yaml``. Archives are
untrusted input: bounded size, file count and expansion, no paths that escape, YAML without
anchors or aliases.
"""

from __future__ import annotations

import io
import json
import posixpath
import zipfile
from typing import Any

import yaml

from portal.errors import ValidationFailed
from publisher.asyncapi import parsing
from publisher.dto import api_dto
from publisher.models import Api
from publisher.services import api_import_asyncapi

MAX_ARCHIVE_BYTES = 10 * 1024 * 1024
MAX_FILES = 200
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_TOTAL_BYTES = 50 * 1024 * 1024
ARCHIVE_VERSION = "v4.2.0"


def _dump(data: Any) -> bytes:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode()


def export_archive(*, api: Api, revision=None) -> tuple[str, bytes]:
    """The project of ``api``'s working copy, or of one revision with where it is deployed."""
    data = dict(revision.frozen) if revision is not None else {**api_dto(api), "definition": api.definition}
    definition = data.pop("definition")
    data.pop("sandboxEndpoint", None)
    data["isRevision"] = revision is not None
    data["revisionId"] = revision.number if revision is not None else 0
    root = f"{api.name}-{api.version}"
    files = {
        f"{root}/api.yaml": _dump({"type": "api", "version": ARCHIVE_VERSION, "data": data}),
        f"{root}/Definitions/asyncapi.yaml": _dump(definition),
        f"{root}/api_meta.yaml": _dump(
            {"name": api.name, "version": api.version, "deploy": {"import": {"preserveProvider": True, "update": True}}}
        ),
    }
    if revision is not None:
        envs = [
            {"displayOnDevportal": d.display_on_devportal, "deploymentEnvironment": d.environment.name}
            for d in revision.deployments.select_related("environment")
        ]
        files[f"{root}/deployment_environments.yaml"] = _dump(
            {"type": "deployment_environments", "version": ARCHIVE_VERSION, "data": envs}
        )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
        for folder in ("Docs/", "Image/"):
            archive.writestr(f"{root}/{folder}", b"")
    return f"{root}.zip", buffer.getvalue()


def _refuse(message: str):
    raise ValidationFailed(f"The API project archive is refused: {message}")


def read_archive(content: bytes) -> dict[str, bytes]:
    """The files of an archive, by path below its single top folder, after every check."""
    if len(content) > MAX_ARCHIVE_BYTES:
        _refuse(f"larger than {MAX_ARCHIVE_BYTES // (1024 * 1024)} MiB")
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError):
        _refuse("not a zip file")
    if len(entries) > MAX_FILES:
        _refuse(f"more than {MAX_FILES} files")
    total = 0
    files: dict[str, bytes] = {}
    for entry in entries:
        name = entry.filename
        normal = posixpath.normpath(name)
        if name.startswith(("/", "\\")) or normal.startswith("..") or "\\" in name or ":" in name.split("/")[0]:
            _refuse(f"the path {name!r} escapes the archive")
        if (entry.external_attr >> 16) & 0o170000 == 0o120000:
            _refuse(f"{name!r} is a symbolic link")
        if entry.is_dir():
            continue
        if entry.file_size > MAX_FILE_BYTES:
            _refuse(f"{name!r} expands beyond {MAX_FILE_BYTES // (1024 * 1024)} MiB")
        total += entry.file_size
        if total > MAX_TOTAL_BYTES:
            _refuse(f"it expands beyond {MAX_TOTAL_BYTES // (1024 * 1024)} MiB")
        with archive.open(entry) as fh:  # the declared size can lie: read at most one byte more
            data = fh.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            _refuse(f"{name!r} expands beyond {MAX_FILE_BYTES // (1024 * 1024)} MiB")
        files[normal] = data
    roots = {name.split("/", 1)[0] for name in files if "/" in name}
    if len(roots) != 1:
        _refuse("it must hold one project folder, <Name>-<Version>/")
    root = roots.pop()
    return {name[len(root) + 1 :]: data for name, data in files.items() if name.startswith(root + "/")}


def _yaml_or_json(name: str, data: bytes) -> Any:
    """A project file read with the limits of definitions (depth, size, no aliases)."""
    try:
        text = data.decode("utf-8")
        if name.endswith(".json"):
            value = json.loads(text)
        else:
            loader = parsing._LimitedLoader(text, parsing.DefinitionLimits.from_settings())
            try:
                value = loader.get_single_data()
            finally:
                loader.dispose()
    except parsing._Refused as exc:
        _refuse(f"{name}: {exc.error.message}")
    except RecursionError:
        _refuse(f"{name} is nested too deep")
    except (yaml.YAMLError, UnicodeDecodeError, ValueError, TypeError) as exc:
        detail = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        _refuse(f"{name} is not valid YAML or JSON ({detail[:120]}{where})")
    _refuse_broken_text(name, value)
    return value


def _refuse_broken_text(name: str, value: Any) -> None:
    """Text a YAML escape made that UTF-8 cannot carry (a lone surrogate, ``"\\ud90b"``) is refused
    here: kept, it would break every answer and page that shows it."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, where = stack.pop()
        if isinstance(item, dict):
            stack.extend((v, f"{where}.{k}" if where else str(k)) for k, v in item.items())
            stack.extend((k, f"{where} (a key)") for k in item if isinstance(k, str))
        elif isinstance(item, list):
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(item))
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                _refuse(f"{name}: text must be valid Unicode (no lone surrogates), at {parsing._printable(where)}")


def parse_project(content: bytes) -> dict[str, Any]:
    """What ``api_create`` needs, from an archive exported by Tidegate or WSO2."""
    files = read_archive(content)
    api_name = next((n for n in ("api.yaml", "api.json") if n in files), None)
    if api_name is None:
        _refuse("it has no api.yaml")
    api_file = _yaml_or_json(api_name, files[api_name])
    if not isinstance(api_file, dict) or api_file.get("type") != "api" or not isinstance(api_file.get("data"), dict):
        _refuse("api.yaml must have type: api and a data mapping")
    data = api_file["data"]
    if data.get("endpointConfig") is not None and not isinstance(data["endpointConfig"], dict):
        _refuse("endpointConfig in api.yaml must be a mapping")
    if str(data.get("type", "WS")).upper() != "WS":
        _refuse(f"only WebSocket APIs (type WS) are managed here, not {data.get('type')!r}")
    def_name = next((n for n in ("Definitions/asyncapi.yaml", "Definitions/asyncapi.json") if n in files), None)
    if def_name is None:
        _refuse("it has no Definitions/asyncapi.yaml")
    document = files[def_name]
    endpoints = data.get("endpointConfig") or {}

    def text(value):  # ``version: 2`` is a number in YAML; WSO2 means the text
        return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value

    return {
        "document": document,
        "properties": {
            "name": text(data.get("name")),
            "version": text(data.get("version")),
            "context": str(data.get("context") or "").removesuffix(f"/{text(data.get('version'))}"),
            "description": data.get("description") or "",
            "tags": data.get("tags") or [],
            "policies": data.get("policies") or None,
            "apiThrottlingPolicy": data.get("apiThrottlingPolicy") or "",
            "endpointConfig": {k: v for k, v in endpoints.items() if k.endswith("_endpoints")},
        },
    }


def import_archive(*, provider, content: bytes) -> Api:
    project = parse_project(content)
    return api_import_asyncapi(provider=provider, document=project["document"], properties=project["properties"])
