"""The Publisher's Documents tab (editor, server-rendered preview, thumbnail upload) and
the Dev Portal's document page, API page and catalog card, through the real pages."""

from __future__ import annotations

import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from publisher import documents
from publisher.models import ApiDocument, ApiThumbnail
from tests import factories

pytestmark = pytest.mark.django_db
XSS = (
    "# Guide\n\n<script>alert('s')</script>\n\n<img src=x onerror=\"alert('e')\">\n\n"
    "[bad](javascript:alert('j')) <a href=\"javascript:alert('a')\">raw</a> [good](https://example.com/ok)\n"
)


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), (1, 2, 3)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def api(publisher):
    return factories.published_api(publisher)


@pytest.fixture
def page(publisher):
    c = Client()
    c.force_login(publisher)
    return c


def _inert(html: str) -> None:
    """No script element, no event handler, no javascript: URL in ``html`` (the words may stay as text)."""
    assert "<script" not in html.lower()
    assert not re.search(r"\son\w+\s*=", html, re.I)
    assert not re.search(r"""(href|src)\s*=\s*["']?\s*javascript:""", html, re.I)


def _save(page, api, **fields):
    form = {"name": "Guide", "type": "HOWTO", "sourceType": "MARKDOWN", "visibility": "API_LEVEL", **fields}
    return page.post(f"/publisher/apis/{api.id}/documents/save", form)


def test_the_preview_is_rendered_by_the_server_sanitised_and_saves_nothing(page, api):
    resp = _save(page, api, inlineContent=XSS, preview="1")
    assert resp.status_code == 200
    preview = re.search(r'<div class="document-body" id="document-preview">(.*?)</div>', resp.content.decode(), re.S)
    assert preview, "the preview is shown"
    assert "<h1>Guide</h1>" in preview.group(1) and 'href="https://example.com/ok"' in preview.group(1)
    _inert(preview.group(1))
    assert not ApiDocument.objects.exists()


def test_a_document_saved_on_the_tab_is_listed_and_edited(page, api):
    resp = _save(page, api, inlineContent="# Hi", summary="Start here")
    assert resp.status_code == 302
    tab = page.get(f"/publisher/apis/{api.id}/documents").content.decode()
    assert "Guide" in tab and "Start here" in tab and 'aria-current="page">Documents' in tab
    doc = ApiDocument.objects.get()
    edit = page.get(f"/publisher/apis/{api.id}/documents?edit={doc.id}").content.decode()
    assert "# Hi</textarea>" in edit
    assert _save(page, api, document=str(doc.id), inlineContent="# Changed").status_code == 302
    doc.refresh_from_db()
    assert doc.inline_content == "# Changed"


def test_a_bad_url_on_the_tab_is_explained_and_nothing_saved(page, api):
    resp = _save(page, api, sourceType="URL", sourceUrl="javascript:alert(1)")
    assert resp.status_code == 200 and "must be an absolute http:// or https:// URL" in resp.content.decode()
    assert not ApiDocument.objects.exists()


def test_a_file_document_with_a_wrong_type_is_not_kept_half_made(page, api):
    resp = _save(page, api, sourceType="FILE", file=SimpleUploadedFile("x.html", b"<script>alert(1)</script>"))
    assert resp.status_code == 200 and "files are accepted" in resp.content.decode()
    assert not ApiDocument.objects.exists()


def test_another_publisher_sees_the_tab_but_cannot_save(api):
    other = Client()
    other.force_login(factories.user("other", roles=["publisher"]))
    assert "Add a document" not in other.get(f"/publisher/apis/{api.id}/documents").content.decode()
    resp = _save(other, api, inlineContent="# defaced")
    assert resp.status_code == 200 and "only its provider or an admin" in resp.content.decode()
    assert not ApiDocument.objects.exists()


def test_a_thumbnail_uploaded_on_the_tab_shows_in_both_portals(page, api, publisher):
    resp = page.post(f"/publisher/apis/{api.id}/thumbnail", {"file": SimpleUploadedFile("t.png", _png())})
    assert resp.status_code == 302 and ApiThumbnail.objects.filter(api=api).exists()
    assert 'id="api-thumbnail"' in page.get(f"/publisher/apis/{api.id}/documents").content.decode()
    dev = Client()
    dev.force_login(factories.user("dev"))
    api_page = dev.get(f"/devportal/apis/{api.id}").content.decode()
    src = re.search(r'<img src="([^"]+)" alt="Thumbnail of Chat"', api_page).group(1)
    assert src.startswith(f"/api/am/devportal/v3/apis/{api.id}/thumbnail")
    image = dev.get(src)
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert f"/api/am/devportal/v3/apis/{api.id}/thumbnail" in dev.get("/devportal/").content.decode()


def test_an_svg_thumbnail_on_the_tab_is_refused_with_the_reason(page, api):
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    resp = page.post(f"/publisher/apis/{api.id}/thumbnail", {"file": SimpleUploadedFile("t.svg", svg)}, follow=True)
    assert "SVG thumbnails are not accepted" in resp.content.decode()
    assert not ApiThumbnail.objects.exists()


def test_the_dev_portal_renders_a_markdown_document_sanitised(api, publisher):
    doc = documents.document_create(
        api=api, user=publisher, fields={"name": "Guide", "sourceType": "MARKDOWN"}, inline_content=XSS
    )
    documents.document_create(api=api, user=publisher, fields={"name": "Secret", "visibility": "PRIVATE"})
    dev = Client()
    dev.force_login(factories.user("dev"))
    api_page = dev.get(f"/devportal/apis/{api.id}").content.decode()
    assert f'href="/devportal/apis/{api.id}/documents/{doc.id}"' in api_page and "Secret" not in api_page
    resp = dev.get(f"/devportal/apis/{api.id}/documents/{doc.id}")
    assert resp.status_code == 200
    body = re.search(r'<div class="document-body" id="document-body">(.*?)</div>', resp.content.decode(), re.S)
    assert "<h1>Guide</h1>" in body.group(1) and 'href="https://example.com/ok"' in body.group(1)
    _inert(body.group(1))
    private = ApiDocument.objects.get(name="Secret")
    assert dev.get(f"/devportal/apis/{api.id}/documents/{private.id}").status_code == 404


def test_a_malformed_document_id_is_not_found_not_a_server_error(page, api):
    assert page.get(f"/publisher/apis/{api.id}/documents?edit=abc").status_code == 404
    resp = page.post(f"/publisher/apis/{api.id}/documents/delete", {"document": "x"})
    assert resp.status_code in (302, 404), resp.status_code
