"""API documents and thumbnails: their checks, their services, their reads and the one
markdown renderer every page uses (the Publisher's preview and the Dev Portal alike).

Documents follow WSO2's Publisher v4 ``Document``: a ``type`` (HOWTO, SAMPLES, ...), a
``sourceType`` (INLINE and MARKDOWN: text kept here and rendered as markdown; URL: a link,
http(s) only; FILE: an uploaded file of an allow-listed type), a ``visibility``.
Everything written is untrusted: inline text is stored as written but only ever shown
rendered by :func:`render_markdown`, which sanitises the HTML (no script, no event
handlers, no style, links only http(s) and mailto). Files are served as downloads with
their allow-listed type, never sniffed, under a CSP that runs nothing.

Thumbnails are PNG or JPEG, decoded with Pillow and re-encoded (what is stored is what
Pillow wrote, not what was sent); SVG is refused, since an SVG is a document that can
carry script.
"""

from __future__ import annotations

import io
import posixpath
import re
import unicodedata
import warnings
from typing import Any
from urllib.parse import urlsplit

import nh3
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from markdown_it import MarkdownIt
from PIL import Image, UnidentifiedImageError

from portal.audit import audit_record
from portal.errors import Conflict, NotFound, ValidationFailed, create_or_conflict
from publisher.models import (
    Api,
    ApiDocument,
    ApiThumbnail,
    DocumentSourceType,
    DocumentType,
    DocumentVisibility,
)
from publisher.services import _assert_may_change, may_change

MAX_INLINE_CHARS = 100_000
MAX_DOCUMENT_FILE_BYTES = 2 * 1024 * 1024
MAX_THUMBNAIL_BYTES = 1024 * 1024
MAX_THUMBNAIL_SIDE = 2048
MAX_URL = 2000
# The files a FILE document may be, by extension, and the type they are served with.
FILE_TYPES = {
    ".pdf": "application/pdf",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
    ".json": "application/json",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
}
# What every served document body or image carries: never sniffed, never run.
SAFE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}

# ---------------------------------------------------------------- rendering

_markdown = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt", "em",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s",
    "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead",
    "tr", "ul",
}  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "code": {"class"},
    "th": {"align"},
    "td": {"align"},
    "ol": {"start"},
}


def render_markdown(text: str) -> str:
    """``text`` (markdown, which may hold HTML) as HTML safe to put in a page: markdown-it
    renders it, nh3 keeps only the tags and attributes above, drops ``<script>`` and
    ``<style>`` with their content, every ``on*`` handler, and every URL whose scheme is
    not http, https or mailto (``javascript:``, ``data:``)."""
    return nh3.clean(
        _markdown.render(text or ""),
        tags=_TAGS,
        clean_content_tags={"script", "style"},
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


# ---------------------------------------------------------------- checks


def _error(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", details=[{"field": field, "message": message}])


def _text(data: dict, field: str, *, max_length: int, default: str = "", lines: bool = True) -> str:
    value = data.get(field, default)
    if not isinstance(value, str):
        raise _error(field, "must be text")
    if len(value) > max_length:
        raise _error(field, f"at most {max_length} characters")
    allowed = "\n\r\t" if lines else ""
    if any(unicodedata.category(c) == "Cs" or (unicodedata.category(c) == "Cc" and c not in allowed) for c in value):
        raise _error(field, "control characters are not allowed")
    return value


def _choice(data: dict, field: str, choices, default: str) -> str:
    value = data.get(field, default)
    if value not in choices.values:
        raise _error(field, f"must be one of {', '.join(choices.values)}")
    return value


def check_http_url(value: str, field: str = "sourceUrl") -> str:
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or any(c.isspace() for c in value):
        raise _error(field, "must be an absolute http:// or https:// URL")
    return value


_NAME_FORBIDDEN = re.compile(r"[/\\:*?\"<>|]")


def clean_document_fields(data: Any, *, current: ApiDocument | None = None) -> dict[str, str]:
    """WSO2's Document fields (``name``, ``type``, ...) checked, as model fields. With
    ``current`` (a PUT), a field not sent keeps its value."""
    if not isinstance(data, dict):
        raise ValidationFailed("Send the document as a JSON object")
    base = (
        {
            "name": current.name,
            "type": current.type,
            "otherTypeName": current.other_type_name,
            "summary": current.summary,
            "sourceType": current.source_type,
            "sourceUrl": current.source_url,
            "visibility": current.visibility,
        }
        if current is not None
        else {}
    )
    data = {**base, **{k: v for k, v in data.items() if k in FIELDS}}
    name = _text(data, "name", max_length=60).strip()
    if not name:
        raise _error("name", "required")
    if _NAME_FORBIDDEN.search(name) or name.startswith("."):
        raise _error("name", 'must not start with a dot nor hold / \\ : * ? " < > |')
    doc_type = _choice(data, "type", DocumentType, DocumentType.HOWTO)
    other = _text(data, "otherTypeName", max_length=60).strip()
    if doc_type == DocumentType.OTHER and not other:
        raise _error("otherTypeName", "required when type is OTHER")
    source_type = _choice(data, "sourceType", DocumentSourceType, DocumentSourceType.INLINE)
    url = _text(data, "sourceUrl", max_length=MAX_URL, lines=False).strip()
    if source_type == DocumentSourceType.URL:
        if not url:
            raise _error("sourceUrl", "required when sourceType is URL")
        check_http_url(url)
    return {
        "name": name,
        "type": doc_type,
        "other_type_name": other if doc_type == DocumentType.OTHER else "",
        "summary": _text(data, "summary", max_length=1000),
        "source_type": source_type,
        "source_url": url if source_type == DocumentSourceType.URL else "",
        "visibility": _choice(data, "visibility", DocumentVisibility, DocumentVisibility.API_LEVEL),
    }


FIELDS = ("name", "type", "otherTypeName", "summary", "sourceType", "sourceUrl", "visibility")


def clean_inline_content(value: Any) -> str:
    if not isinstance(value, str):
        raise _error("inlineContent", "must be text")
    return _text({"inlineContent": value}, "inlineContent", max_length=MAX_INLINE_CHARS)


def clean_document_file(name: str, data: bytes) -> str:
    """The file's name, kept to its last part, once its extension is allowed and its bytes
    look like what the extension says."""
    base = posixpath.basename((name or "").replace("\\", "/")).strip()
    ext = posixpath.splitext(base)[1].lower()
    if ext not in FILE_TYPES:
        raise _error("file", f"only {', '.join(sorted(FILE_TYPES))} files are accepted")
    if len(data) > MAX_DOCUMENT_FILE_BYTES:
        raise _error("file", f"larger than {MAX_DOCUMENT_FILE_BYTES // 1024 // 1024} MiB")
    if not data:
        raise _error("file", "is empty")
    if ext == ".pdf":
        if not data.startswith(b"%PDF-"):
            raise _error("file", "is not a PDF")
    else:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise _error("file", f"a {ext} file must be UTF-8 text") from None
        if b"\x00" in data:
            raise _error("file", f"a {ext} file must be text")
    clean = "".join(c for c in base if c.isprintable() and c not in "\"'")[:200]
    return clean or f"document{ext}"


def document_file_type(doc: ApiDocument) -> str:
    return FILE_TYPES.get(posixpath.splitext(doc.file_name)[1].lower(), "application/octet-stream")


def clean_thumbnail(data: bytes) -> tuple[bytes, str]:
    """The image re-encoded by Pillow and its content type; SVG and everything that is not a
    PNG or JPEG of at most MAX_THUMBNAIL_SIDE pixels a side is refused."""
    if len(data) > MAX_THUMBNAIL_BYTES:
        raise _error("file", f"larger than {MAX_THUMBNAIL_BYTES // 1024} KiB")
    head = data[:512].lstrip().lower()
    if head.startswith((b"<?xml", b"<svg", b"<!doctype")) or b"<svg" in head:
        raise _error("file", "SVG thumbnails are not accepted: send a PNG or a JPEG")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=["PNG", "JPEG"])
            if max(image.size) > MAX_THUMBNAIL_SIDE:
                raise _error("file", f"at most {MAX_THUMBNAIL_SIDE} pixels a side")
            fmt = image.format
            image.load()
    except ValidationFailed:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError, Warning):
        raise _error("file", "not a PNG or JPEG image") from None
    out = io.BytesIO()
    if fmt == "JPEG":
        image.convert("RGB").save(out, format="JPEG", quality=90)
        return out.getvalue(), "image/jpeg"
    if image.mode not in ("RGB", "RGBA", "L", "LA", "P"):
        image = image.convert("RGBA")
    image.save(out, format="PNG")
    return out.getvalue(), "image/png"


# ---------------------------------------------------------------- services


def _conflict(api: Api, name: str) -> str:
    return f"A document named {name!r} already exists for this API"


def _set_content(doc: ApiDocument, *, inline_content: str | None, file_name: str | None, file_bytes: bytes | None):
    if doc.source_type == DocumentSourceType.URL:
        raise ValidationFailed("A URL document has no content to upload: set its sourceUrl")
    if doc.source_type == DocumentSourceType.FILE:
        if file_bytes is None:
            raise _error("file", "a FILE document takes its content as multipart 'file'")
        doc.file_name = clean_document_file(file_name or "", file_bytes)
        doc.file_content = file_bytes
        doc.inline_content = ""
    else:
        if inline_content is None:
            if file_bytes is None:
                raise _error("inlineContent", f"a {doc.source_type} document takes its content as 'inlineContent'")
            try:
                inline_content = file_bytes.decode("utf-8")
            except UnicodeDecodeError:
                raise _error("file", "inline content must be UTF-8 text") from None
        doc.inline_content = clean_inline_content(inline_content)
        doc.file_name, doc.file_content = "", b""


@transaction.atomic
def document_create(*, api: Api, user, fields: dict, inline_content: str | None = None) -> ApiDocument:
    """A new document of ``api`` from WSO2's fields, with its inline content when given."""
    _assert_may_change(api, user)
    cleaned = clean_document_fields(fields)
    if inline_content is not None:
        clean_inline_content(inline_content)
    doc = create_or_conflict(
        ApiDocument, conflict=_conflict(api, cleaned["name"]), api=api, created_by=user, last_updated_by=user, **cleaned
    )
    if inline_content is not None and doc.source_type in (DocumentSourceType.INLINE, DocumentSourceType.MARKDOWN):
        _set_content(doc, inline_content=inline_content, file_name=None, file_bytes=None)
        doc.save()
    audit_record(actor=user, action="api.document.create", target=doc, detail={"api": str(api.id), "name": doc.name})
    return doc


@transaction.atomic
def document_update(*, document: ApiDocument, user, fields: dict, inline_content: str | None = None) -> ApiDocument:
    """Change a document's fields (those sent); a new sourceType drops content of the old kind."""
    _assert_may_change(document.api, user)
    cleaned = clean_document_fields(fields, current=document)
    if inline_content is not None:
        clean_inline_content(inline_content)
    if cleaned["name"] != document.name and document.api.documents.filter(name=cleaned["name"]).exists():
        raise Conflict(_conflict(document.api, cleaned["name"]))
    old_source = document.source_type
    for key, value in cleaned.items():
        setattr(document, key, value)
    if old_source != document.source_type:
        inline_kinds = (DocumentSourceType.INLINE, DocumentSourceType.MARKDOWN)
        if not (old_source in inline_kinds and document.source_type in inline_kinds):
            document.inline_content, document.file_name, document.file_content = "", "", b""
    if inline_content is not None and document.source_type in (DocumentSourceType.INLINE, DocumentSourceType.MARKDOWN):
        _set_content(document, inline_content=inline_content, file_name=None, file_bytes=None)
    document.last_updated_by = user
    document.save()
    audit_record(
        actor=user,
        action="api.document.update",
        target=document,
        detail={"api": str(document.api_id), "name": document.name},
    )
    return document


@transaction.atomic
def document_content_set(
    *, document: ApiDocument, user, inline_content: str | None = None, file_name: str | None = None,
    file_bytes: bytes | None = None,
) -> ApiDocument:  # fmt: skip
    """The content of a document: inline text for INLINE and MARKDOWN, a file for FILE."""
    _assert_may_change(document.api, user)
    _set_content(document, inline_content=inline_content, file_name=file_name, file_bytes=file_bytes)
    document.last_updated_by = user
    document.save()
    detail = {"api": str(document.api_id), "name": document.name}
    if document.source_type == DocumentSourceType.FILE:
        detail.update(fileName=document.file_name, bytes=len(document.file_content))
    audit_record(actor=user, action="api.document.content", target=document, detail=detail)
    return document


@transaction.atomic
def document_delete(*, document: ApiDocument, user) -> None:
    _assert_may_change(document.api, user)
    audit_record(
        actor=user,
        action="api.document.delete",
        target=document,
        detail={"api": str(document.api_id), "name": document.name},
    )
    document.delete()


@transaction.atomic
def thumbnail_set(*, api: Api, user, data: bytes) -> ApiThumbnail:
    """``api``'s thumbnail, replacing any: the image as Pillow re-encoded it."""
    _assert_may_change(api, user)
    content, content_type = clean_thumbnail(data)
    thumb, _ = ApiThumbnail.objects.update_or_create(
        api=api, defaults={"content": content, "content_type": content_type}
    )
    audit_record(
        actor=user,
        action="api.thumbnail.update",
        target=api,
        detail={"contentType": content_type, "bytes": len(content)},
    )
    return thumb


# ---------------------------------------------------------------- reads


def document_list(*, api: Api, user=None, devportal: bool = False) -> QuerySet[ApiDocument]:
    """The documents of ``api`` its reader may see, without their file bytes: the Dev
    Portal's readers API_LEVEL ones; Publisher users PRIVATE ones too, and OWNER_ONLY ones
    when they may change the API."""
    docs = ApiDocument.objects.filter(api=api).defer("file_content").select_related("created_by", "last_updated_by")
    if devportal:
        return docs.filter(visibility=DocumentVisibility.API_LEVEL)
    if not may_change(api, user):
        docs = docs.exclude(visibility=DocumentVisibility.OWNER_ONLY)
    return docs


def document_get_or_404(*, api: Api, document_id, user=None, devportal: bool = False) -> ApiDocument:
    try:
        doc = document_list(api=api, user=user, devportal=devportal).defer(None).filter(pk=document_id).first()
    except (ValueError, TypeError, ValidationError):  # a malformed id is simply not found
        doc = None
    if doc is None:
        raise NotFound(f"Document {document_id} of this API not found")
    return doc


def thumbnail_get(api: Api) -> ApiThumbnail | None:
    return ApiThumbnail.objects.filter(api=api).first()


def thumbnail_version(api: Api) -> str:
    """A token that changes with the thumbnail (for ``?v=`` in image URLs), "" when none."""
    updated = ApiThumbnail.objects.filter(api=api).values_list("updated_time", flat=True).first()
    return str(int(updated.timestamp())) if updated else ""


# ---------------------------------------------------------------- shape


def document_dto(doc: ApiDocument) -> dict[str, Any]:
    """WSO2's Document."""
    return {
        "documentId": str(doc.id),
        "name": doc.name,
        "type": doc.type,
        "otherTypeName": doc.other_type_name or None,
        "summary": doc.summary,
        "sourceType": doc.source_type,
        "sourceUrl": doc.source_url or None,
        "fileName": doc.file_name or None,
        "inlineContent": None,
        "visibility": doc.visibility,
        "createdBy": doc.created_by.get_username(),
        "createdTime": doc.created_time.isoformat(),
        "lastUpdatedBy": doc.last_updated_by.get_username() if doc.last_updated_by else None,
        "lastUpdatedTime": doc.last_updated_time.isoformat(),
    }


def document_list_dto(docs) -> dict[str, Any]:
    items = [document_dto(d) for d in docs]
    return {"count": len(items), "list": items, "pagination": {"offset": 0, "limit": len(items), "total": len(items)}}
