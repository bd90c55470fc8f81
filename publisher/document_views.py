"""The Publisher's Documents tab: an API's documents (add, edit with a markdown editor and a
preview the server renders with the Dev Portal's renderer, delete) and its thumbnail."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST, require_safe

from portal.errors import ApplicationError, ValidationFailed
from portal.pages import role_required, run_service
from portal.roles import CREATOR, PUBLISHER
from publisher import documents, selectors
from publisher.design_views import page_context
from publisher.models import DocumentSourceType, DocumentType, DocumentVisibility

EMPTY = {"name": "", "type": "HOWTO", "otherTypeName": "", "summary": "", "sourceType": "MARKDOWN", "sourceUrl": ""}


def _tab(request, api, *, form=None, editing=None, preview=None):
    return render(
        request,
        "publisher/documents.html",
        page_context(
            request,
            api,
            "documents",
            documents=documents.document_list(api=api, user=request.user),
            form=form or {**EMPTY, "visibility": "API_LEVEL", "inlineContent": ""},
            editing=editing,
            preview=mark_safe(preview) if preview is not None else None,  # noqa: S308 - sanitised by render_markdown
            types=DocumentType.values,
            source_types=DocumentSourceType.values,
            visibilities=DocumentVisibility.values,
            max_file_mib=documents.MAX_DOCUMENT_FILE_BYTES // 1024 // 1024,
            file_types=", ".join(sorted(documents.FILE_TYPES)),
            max_thumbnail_kib=documents.MAX_THUMBNAIL_BYTES // 1024,
        ),
    )


@role_required(CREATOR, PUBLISHER)
@require_safe
def documents_tab(request, api_id):
    api = selectors.api_get_or_404(api_id)
    edit = request.GET.get("edit")
    if edit:
        doc = documents.document_get_or_404(api=api, document_id=edit, user=request.user)
        form = {
            "name": doc.name,
            "type": doc.type,
            "otherTypeName": doc.other_type_name,
            "summary": doc.summary,
            "sourceType": doc.source_type,
            "sourceUrl": doc.source_url,
            "visibility": doc.visibility,
            "inlineContent": doc.inline_content,
        }
        return _tab(request, api, form=form, editing=doc)
    return _tab(request, api)


@role_required(CREATOR, PUBLISHER)
@require_POST
def document_save(request, api_id):
    """Add or (``document`` set) change a document; ``preview`` renders the markdown instead."""
    api = selectors.api_get_or_404(api_id)
    form = {k: request.POST.get(k, "") for k in (*documents.FIELDS, "inlineContent")}
    doc_id = request.POST.get("document", "")
    current = documents.document_get_or_404(api=api, document_id=doc_id, user=request.user) if doc_id else None
    if "preview" in request.POST:
        return _tab(request, api, form=form, editing=current, preview=documents.render_markdown(form["inlineContent"]))
    upload = request.FILES.get("file")
    inline = form.pop("inlineContent") if form["sourceType"] in ("INLINE", "MARKDOWN") else None
    try:
        with transaction.atomic():  # the document and its file, or neither
            doc = _save(request, api, current, form, inline, upload)
    except ApplicationError as exc:
        messages.error(request, exc.description)
        form["inlineContent"] = inline or ""
        return _tab(request, api, form=form, editing=current)
    messages.success(request, f"Saved document {doc.name}.")
    return redirect("publisher:documents", api_id=api.id)


def _save(request, api, current, form, inline, upload):
    if current is None:
        doc = documents.document_create(api=api, user=request.user, fields=form, inline_content=inline)
    else:
        doc = documents.document_update(document=current, user=request.user, fields=form, inline_content=inline)
    if upload is not None and doc.source_type == DocumentSourceType.FILE:
        if upload.size > documents.MAX_DOCUMENT_FILE_BYTES:
            raise ValidationFailed(f"file: larger than {documents.MAX_DOCUMENT_FILE_BYTES // 1024 // 1024} MiB")
        documents.document_content_set(document=doc, user=request.user, file_name=upload.name, file_bytes=upload.read())
    return doc


@role_required(CREATOR, PUBLISHER)
@require_POST
def document_delete(request, api_id):
    api = selectors.api_get_or_404(api_id)
    doc = documents.document_get_or_404(api=api, document_id=request.POST.get("document", ""), user=request.user)
    try:
        documents.document_delete(document=doc, user=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.description)
    else:
        messages.success(request, f"Deleted document {doc.name}.")
    return redirect("publisher:documents", api_id=api.id)


@role_required(CREATOR, PUBLISHER)
@require_POST
def thumbnail_save(request, api_id):
    api = selectors.api_get_or_404(api_id)
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, "Choose a PNG or JPEG image.")
    elif upload.size > documents.MAX_THUMBNAIL_BYTES:
        messages.error(request, f"file: larger than {documents.MAX_THUMBNAIL_BYTES // 1024} KiB")
    elif run_service(request, documents.thumbnail_set, api=api, user=request.user, data=upload.read()):
        messages.success(request, "Saved the thumbnail.")
    return redirect("publisher:documents", api_id=api.id)
