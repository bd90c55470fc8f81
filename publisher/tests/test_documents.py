"""API documents and thumbnails through the Publisher and Dev Portal REST: WSO2's
Document resource, content as inline markdown, a URL or a file, bad input refused with
nothing changed, the thumbnail re-encoded, and both carried by API project archives."""

from __future__ import annotations

import io
import zipfile

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.test import APIClient

from portal.models import AuditEvent
from publisher.models import Api, ApiDocument
from tests import factories

BASE = "/api/am/publisher/v4"
DEV = "/api/am/devportal/v3"
pytestmark = pytest.mark.django_db
XSS = "# Guide\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n[click](javascript:alert(3))\n"


def _png(size=(8, 6), color=(200, 10, 10)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (5, 5), (0, 0, 255)).save(out, format="JPEG")
    return out.getvalue()


@pytest.fixture
def api(publisher):
    return factories.published_api(publisher)


def _doc(client, api, **fields):
    body = {"name": "Getting started", "type": "HOWTO", "sourceType": "MARKDOWN", **fields}
    return client.post(f"{BASE}/apis/{api.id}/documents", body, format="json")


def test_a_markdown_document_is_created_listed_read_changed_and_deleted(client, api):
    resp = _doc(client, api, summary="How to connect", inlineContent="# Hello")
    assert resp.status_code == 201, resp.content
    doc = resp.json()
    assert doc["name"] == "Getting started" and doc["type"] == "HOWTO" and doc["sourceType"] == "MARKDOWN"
    assert doc["visibility"] == "API_LEVEL" and doc["summary"] == "How to connect"
    listed = client.get(f"{BASE}/apis/{api.id}/documents").json()
    assert listed["count"] == 1 and listed["list"][0]["documentId"] == doc["documentId"]
    content = client.get(f"{BASE}/apis/{api.id}/documents/{doc['documentId']}/content")
    assert content.status_code == 200 and content.content == b"# Hello"
    assert content["Content-Type"].startswith("text/plain") and content["X-Content-Type-Options"] == "nosniff"

    resp = client.post(
        f"{BASE}/apis/{api.id}/documents/{doc['documentId']}/content", {"inlineContent": "## Two"}, format="multipart"
    )
    assert resp.status_code == 201
    assert client.get(f"{BASE}/apis/{api.id}/documents/{doc['documentId']}/content").content == b"## Two"

    resp = client.put(
        f"{BASE}/apis/{api.id}/documents/{doc['documentId']}", {"type": "OTHER", "otherTypeName": "FAQ"}, format="json"
    )
    assert (
        resp.status_code == 200 and resp.json()["otherTypeName"] == "FAQ" and resp.json()["name"] == "Getting started"
    )
    assert client.delete(f"{BASE}/apis/{api.id}/documents/{doc['documentId']}").status_code == 200
    assert client.get(f"{BASE}/apis/{api.id}/documents/{doc['documentId']}").status_code == 404
    actions = list(
        AuditEvent.objects.filter(action__startswith="api.document").order_by("pk").values_list("action", flat=True)
    )
    assert actions == ["api.document.create", "api.document.content", "api.document.update", "api.document.delete"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"sourceType": "URL", "sourceUrl": "javascript:alert(1)"}, "sourceUrl"),
        ({"sourceType": "URL", "sourceUrl": "ftp://example.com/doc"}, "sourceUrl"),
        ({"sourceType": "URL", "sourceUrl": "file:///etc/passwd"}, "sourceUrl"),
        ({"sourceType": "URL"}, "sourceUrl"),
        ({"type": "OTHER"}, "otherTypeName"),
        ({"type": "TUTORIAL"}, "type"),
        ({"sourceType": "PDF"}, "sourceType"),
        ({"visibility": "EVERYONE"}, "visibility"),
        ({"name": ""}, "name"),
        ({"name": "../escape"}, "name"),
        ({"name": "x" * 61}, "name"),
    ],
)
def test_a_bad_document_is_refused_with_its_field_named_and_nothing_created(client, api, fields, field):
    resp = _doc(client, api, **fields)
    assert resp.status_code == 400
    body = resp.json()
    assert body["code"] == 400 and field in body["description"]
    assert not ApiDocument.objects.exists()


def test_a_url_document_answers_its_content_with_a_redirect_to_the_url(client, api):
    doc = _doc(client, api, name="Forum", type="PUBLIC_FORUM", sourceType="URL", sourceUrl="https://forum.example.com/")
    assert doc.status_code == 201
    resp = client.get(f"{BASE}/apis/{api.id}/documents/{doc.json()['documentId']}/content")
    assert resp.status_code == 303 and resp["Location"] == "https://forum.example.com/"


def test_a_second_document_with_the_same_name_conflicts(client, api):
    assert _doc(client, api).status_code == 201
    resp = _doc(client, api)
    assert resp.status_code == 409 and "already exists" in resp.json()["description"]
    assert ApiDocument.objects.count() == 1


def _file_doc(client, api):
    doc = _doc(client, api, name="Spec", sourceType="FILE").json()
    return doc, f"{BASE}/apis/{api.id}/documents/{doc['documentId']}/content"


def test_a_file_document_is_downloaded_as_an_attachment_never_sniffed(client, api):
    doc, url = _file_doc(client, api)
    pdf = b"%PDF-1.4\n% a tiny pdf\n"
    resp = client.post(url, {"file": SimpleUploadedFile("guide.pdf", pdf)}, format="multipart")
    assert resp.status_code == 201 and resp.json()["fileName"] == "guide.pdf"
    got = client.get(url)
    assert got.status_code == 200 and got.content == pdf
    assert got["Content-Type"] == "application/pdf"
    assert got["Content-Disposition"].startswith("attachment")
    assert got["X-Content-Type-Options"] == "nosniff" and got["Content-Security-Policy"].startswith(
        "default-src 'none'"
    )


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("page.html", b"<script>alert(1)</script>", "files are accepted"),
        ("run.exe", b"MZ\x90\x00", "files are accepted"),
        ("fake.pdf", b"<html>not a pdf</html>", "not a PDF"),
        ("big.txt", b"a" * (2 * 1024 * 1024 + 1), "larger than"),
        ("bin.txt", b"\xff\xfe\x00binary", "UTF-8"),
    ],
)
def test_a_wrong_type_or_oversized_upload_is_refused_and_the_old_file_kept(client, api, name, content, message):
    doc, url = _file_doc(client, api)
    assert client.post(url, {"file": SimpleUploadedFile("a.txt", b"kept")}, format="multipart").status_code == 201
    resp = client.post(url, {"file": SimpleUploadedFile(name, content)}, format="multipart")
    assert resp.status_code == 400 and message in resp.json()["description"]
    assert client.get(url).content == b"kept"


def test_another_creator_cannot_add_change_or_delete_documents(client, api):
    doc = _doc(client, api).json()
    other = APIClient()
    other.force_authenticate(factories.user("other", roles=["creator"]))
    assert _doc(other, api, name="Mine").status_code == 403
    url = f"{BASE}/apis/{api.id}/documents/{doc['documentId']}"
    assert other.put(url, {"name": "Renamed"}, format="json").status_code == 403
    assert other.delete(url).status_code == 403
    assert other.post(f"{url}/content", {"inlineContent": "defaced"}, format="multipart").status_code == 403
    assert other.get(url).status_code == 200  # reading is every Publisher user's
    assert ApiDocument.objects.get().name == "Getting started"


def test_owner_only_and_private_documents_stay_where_they_belong(client, api):
    _doc(client, api, name="Public")
    _doc(client, api, name="Team", visibility="PRIVATE")
    _doc(client, api, name="Mine", visibility="OWNER_ONLY")
    other = APIClient()
    other.force_authenticate(factories.user("other", roles=["creator"]))
    assert [d["name"] for d in other.get(f"{BASE}/apis/{api.id}/documents").json()["list"]] == ["Public", "Team"]
    dev = APIClient()
    dev.force_authenticate(factories.user("dev"))
    assert [d["name"] for d in dev.get(f"{DEV}/apis/{api.id}/documents").json()["list"]] == ["Public"]


def test_the_dev_portal_reads_documents_of_published_apis_only(client, api, publisher):
    doc = _doc(client, api, inlineContent=XSS).json()
    dev = APIClient()
    dev.force_authenticate(factories.user("dev"))
    assert dev.get(f"{DEV}/apis/{api.id}/documents/{doc['documentId']}").json()["name"] == "Getting started"
    content = dev.get(f"{DEV}/apis/{api.id}/documents/{doc['documentId']}/content")
    assert content.content.decode() == XSS  # stored as written; only ever shown rendered and sanitised
    assert content["Content-Type"].startswith("text/plain") and content["X-Content-Type-Options"] == "nosniff"
    draft = factories.api(publisher, context="/draft")
    draft_doc = _doc(client, draft).json()
    assert dev.get(f"{DEV}/apis/{draft.id}/documents").status_code == 404
    assert dev.get(f"{DEV}/apis/{draft.id}/documents/{draft_doc['documentId']}/content").status_code == 404


def test_a_png_thumbnail_is_re_encoded_and_served_as_an_image(client, api):
    original = _png() + b"trailing bytes a polyglot would hide here"
    resp = client.put(
        f"{BASE}/apis/{api.id}/thumbnail", {"file": SimpleUploadedFile("t.png", original)}, format="multipart"
    )
    assert resp.status_code == 200, resp.content
    got = client.get(f"{BASE}/apis/{api.id}/thumbnail")
    assert got.status_code == 200 and got["Content-Type"] == "image/png"
    assert got["X-Content-Type-Options"] == "nosniff" and "default-src 'none'" in got["Content-Security-Policy"]
    assert b"polyglot" not in got.content and Image.open(io.BytesIO(got.content)).size == (8, 6)
    dev = APIClient()
    dev.force_authenticate(factories.user("dev"))
    assert dev.get(f"{DEV}/apis/{api.id}/thumbnail").content == got.content
    jpeg = client.put(
        f"{BASE}/apis/{api.id}/thumbnail", {"file": SimpleUploadedFile("t.jpg", _jpeg())}, format="multipart"
    )
    assert jpeg.status_code == 200 and client.get(f"{BASE}/apis/{api.id}/thumbnail")["Content-Type"] == "image/jpeg"
    assert AuditEvent.objects.filter(action="api.thumbnail.update").count() == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "SVG"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>', "SVG"),
        (b"GIF89a not accepted", "PNG or JPEG"),
        (b"\x89PNG\r\n\x1a\n broken", "PNG or JPEG"),
        (b"\x89PNG" + b"0" * (1024 * 1024), "larger than"),
    ],
)
def test_a_bad_thumbnail_is_refused_and_the_old_one_kept(client, api, content, message):
    client.put(f"{BASE}/apis/{api.id}/thumbnail", {"file": SimpleUploadedFile("t.png", _png())}, format="multipart")
    before = client.get(f"{BASE}/apis/{api.id}/thumbnail").content
    resp = client.put(f"{BASE}/apis/{api.id}/thumbnail", {"file": SimpleUploadedFile("t", content)}, format="multipart")
    assert resp.status_code == 400 and message in resp.json()["description"]
    assert client.get(f"{BASE}/apis/{api.id}/thumbnail").content == before


def test_an_api_without_a_thumbnail_answers_404_in_the_error_body(client, api):
    resp = client.get(f"{BASE}/apis/{api.id}/thumbnail")
    assert resp.status_code == 404 and resp.json()["description"] == "This API has no thumbnail"


def test_an_archive_carries_documents_and_thumbnail_both_ways(client, publisher):
    api = factories.api(publisher)
    md = _doc(client, api, inlineContent="# Read me\n").json()
    _doc(client, api, name="Forum", type="SUPPORT_FORUM", sourceType="URL", sourceUrl="https://forum.example.com/")
    _, url = _file_doc(client, api)
    client.post(url, {"file": SimpleUploadedFile("guide.pdf", b"%PDF-1.4 x")}, format="multipart")
    client.put(f"{BASE}/apis/{api.id}/thumbnail", {"file": SimpleUploadedFile("t.png", _png())}, format="multipart")
    thumb = client.get(f"{BASE}/apis/{api.id}/thumbnail").content

    exported = client.get(f"{BASE}/apis/export", {"apiId": str(api.id)}).content
    names = set(zipfile.ZipFile(io.BytesIO(exported)).namelist())
    root = "Chat-1.0.0/"
    assert {
        root + "Docs/Getting started/document.yaml",
        root + "Docs/Getting started/Getting started",
        root + "Docs/Forum/document.yaml",
        root + "Docs/Spec/document.yaml",
        root + "Docs/Spec/guide.pdf",
        root + "Image/icon.png",
    } <= names
    meta = yaml.safe_load(zipfile.ZipFile(io.BytesIO(exported)).read(root + "Docs/Getting started/document.yaml"))
    assert meta["type"] == "document" and meta["data"]["sourceType"] == "MARKDOWN"

    Api.objects.filter(pk=api.id).delete()  # as if imported into another Tidegate
    resp = client.post(f"{BASE}/apis/import", {"file": SimpleUploadedFile("p.zip", exported)}, format="multipart")
    assert resp.status_code == 201, resp.content
    new_id = resp.json()["id"]
    docs = {d["name"]: d for d in client.get(f"{BASE}/apis/{new_id}/documents").json()["list"]}
    assert set(docs) == {"Getting started", "Forum", "Spec"}
    assert docs["Forum"]["sourceUrl"] == "https://forum.example.com/" and docs["Forum"]["type"] == "SUPPORT_FORUM"
    base = f"{BASE}/apis/{new_id}/documents"
    assert client.get(f"{base}/{docs['Getting started']['documentId']}/content").content == b"# Read me\n"
    assert client.get(f"{base}/{docs['Spec']['documentId']}/content").content == b"%PDF-1.4 x"
    assert client.get(f"{BASE}/apis/{new_id}/thumbnail").content == thumb
    assert md["documentId"] not in {d["documentId"] for d in docs.values()}


def test_an_archive_with_a_bad_document_is_refused_and_creates_nothing(client, publisher):
    api = factories.api(publisher)
    _doc(client, api, name="Forum", sourceType="URL", sourceUrl="https://forum.example.com/")
    exported = client.get(f"{BASE}/apis/export", {"apiId": str(api.id)}).content
    source = zipfile.ZipFile(io.BytesIO(exported))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name in source.namelist():
            data = source.read(name)
            if name.endswith("Docs/Forum/document.yaml"):
                data = data.replace(b"https://forum.example.com/", b"javascript:alert(1)")
            z.writestr(name, data)
    Api.objects.filter(pk=api.id).delete()
    resp = client.post(f"{BASE}/apis/import", {"file": SimpleUploadedFile("p.zip", out.getvalue())}, format="multipart")
    assert resp.status_code == 400 and "sourceUrl" in resp.json()["description"]
    assert not Api.objects.exists() and not ApiDocument.objects.exists()
