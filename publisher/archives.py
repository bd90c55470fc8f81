"""API project archives in the layout WSO2's ``apictl`` uses, both ways.

``<Name>-<Version>/api.yaml`` (``type: api``, ``data: {...}``), ``Definitions/asyncapi.yaml``,
``api_meta.yaml``, ``Docs/<Name>/document.yaml`` with the document's content beside it
(``Docs/<Name>/<Name>`` for inline text, ``Docs/<Name>/<fileName>`` for a file),
``Image/icon.png`` (or ``.jpg``), and, for a revision, ``deployment_environments.yaml``.
Documents and the thumbnail are the API's own, not a revision's: a revision's archive
carries them as they are now. Archives are
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
from django.db import transaction

from portal.errors import ValidationFailed
from publisher import documents as docs
from publisher.asyncapi import parsing
from publisher.dto import CREDENTIAL_KINDS, api_dto
from publisher.models import Api
from publisher.services import ENFORCEMENT_FIELDS, api_enforcement_apply, api_import_asyncapi

MAX_ARCHIVE_BYTES = 10 * 1024 * 1024
MAX_FILES = 200
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_TOTAL_BYTES = 50 * 1024 * 1024
ARCHIVE_VERSION = "v4.2.0"


def _dump(data: Any) -> bytes:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode()


def export_archive(*, api: Api, user, revision=None) -> tuple[str, bytes]:
    """The project of ``api``'s working copy, or of one revision with where it is deployed,
    with the documents ``user`` may read (owner-only ones only when they may change the API)."""
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
    for doc in docs.document_list(api=api, user=user).defer(None):
        dto = docs.document_dto(doc)
        data = {k: dto[k] for k in (*docs.FIELDS, "fileName") if dto[k] is not None}
        files[f"{root}/Docs/{doc.name}/document.yaml"] = _dump(
            {"type": "document", "version": ARCHIVE_VERSION, "data": data}
        )
        if doc.source_type == "FILE" and doc.file_name:
            files[f"{root}/Docs/{doc.name}/{doc.file_name}"] = bytes(doc.file_content)
        elif doc.source_type in ("INLINE", "MARKDOWN"):
            files[f"{root}/Docs/{doc.name}/{doc.name}"] = doc.inline_content.encode()
    thumb = docs.thumbnail_get(api)
    if thumb is not None:
        files[f"{root}/Image/icon.{'jpg' if thumb.content_type == 'image/jpeg' else 'png'}"] = bytes(thumb.content)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
        for folder in ("Docs/", "Image/"):
            if not any(n.startswith(f"{root}/{folder}") for n in files):
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
        "documents": _project_documents(files),
        "thumbnail": next((files[n] for n in sorted(files) if n.startswith("Image/")), None),
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
        "enforcement": _enforcement(data),
    }


def _enforcement(data: dict[str, Any]) -> dict[str, Any]:
    """How the gateway enforces the API besides its topics, as api.yaml writes it (checked by
    ``api_enforcement_apply`` when imported or deployed to a standalone gateway). WSO2
    lists in ``securityScheme`` modifiers and kinds Tidegate has not
    (``oauth_basic_auth_api_key_mandatory``, ``basic_auth``, ``mutualssl``): only its own
    kinds are kept, and none of them leaves OAuth2."""
    enforcement = {k: data[k] for k in ENFORCEMENT_FIELDS if k in data}
    scheme = enforcement.get("securityScheme")
    if isinstance(scheme, list):
        enforcement["securityScheme"] = [k for k in scheme if isinstance(k, str) and k in CREDENTIAL_KINDS]
    return enforcement


def _project_documents(files: dict[str, bytes]) -> list[dict[str, Any]]:
    """Each ``Docs/<Name>/document.yaml`` with its content, checked as the REST checks them
    (before anything is created, so a bad document refuses the whole archive)."""
    out = []
    for path in sorted(files):
        parts = path.split("/")
        if len(parts) != 3 or parts[0] != "Docs" or parts[2] not in ("document.yaml", "document.json"):
            continue
        folder = parts[1]
        doc_file = _yaml_or_json(path, files[path])
        if not isinstance(doc_file, dict) or not isinstance(doc_file.get("data"), dict):
            _refuse(f"{path} must have a data mapping")
        data = doc_file["data"]
        try:
            fields = docs.clean_document_fields(data)
            item: dict[str, Any] = {"fields": data, "inline": None, "file_name": None, "file": None}
            if fields["source_type"] == "FILE":
                name = str(data.get("fileName") or "")
                others = [p for p in files if p.startswith(f"Docs/{folder}/") and p.count("/") == 2 and p != path]
                where = f"Docs/{folder}/{name}" if name else (others[0] if len(others) == 1 else "")
                if where in files:
                    item["file_name"] = posixpath.basename(where)
                    item["file"] = files[where]
                    docs.clean_document_file(item["file_name"], item["file"])
            elif fields["source_type"] in ("INLINE", "MARKDOWN"):
                raw = files.get(f"Docs/{folder}/{folder}", files.get(f"Docs/{folder}/{fields['name']}"))
                if raw is not None:
                    try:
                        item["inline"] = docs.clean_inline_content(raw.decode("utf-8"))
                    except UnicodeDecodeError:
                        _refuse(f"the content of document {folder!r} must be UTF-8 text")
        except ValidationFailed as exc:
            if exc.description.startswith("The API project archive"):
                raise
            _refuse(f"document {folder!r}: {exc.description}")
        out.append(item)
    return out


def import_archive(*, provider, content: bytes) -> Api:
    """The API of an archive, with its documents and thumbnail, all or nothing."""
    project = parse_project(content)
    with transaction.atomic():
        api = api_import_asyncapi(provider=provider, document=project["document"], properties=project["properties"])
        try:
            api.save(update_fields=api_enforcement_apply(api, project["enforcement"]))
        except ValidationFailed as exc:
            _refuse(f"api.yaml: {exc.description}")
        for item in project["documents"]:
            doc = docs.document_create(api=api, user=provider, fields=item["fields"], inline_content=item["inline"])
            if item["file"] is not None:
                docs.document_content_set(
                    document=doc, user=provider, file_name=item["file_name"], file_bytes=item["file"]
                )
        if project["thumbnail"] is not None:
            try:
                docs.thumbnail_set(api=api, user=provider, data=project["thumbnail"])
            except ValidationFailed as exc:
                _refuse(f"Image/: {exc.description}")
    return api
