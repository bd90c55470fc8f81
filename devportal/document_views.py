"""The Dev Portal's document page: one API_LEVEL document of a catalog API, its markdown
rendered and sanitised on the server (publisher.documents.render_markdown)."""

from django.shortcuts import render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_safe

from devportal import selectors
from devportal.views import browsable
from publisher import documents
from publisher.models import DocumentSourceType


@browsable
@require_safe
def document(request, api_id, document_id):
    # The API as the catalog shows it to this visitor or user: 404 when restricted from them.
    api = selectors.catalog_get_or_404(api_id, user=request.user)
    doc = documents.document_get_or_404(api=api, document_id=document_id, devportal=True)
    body = None
    if doc.source_type in (DocumentSourceType.INLINE, DocumentSourceType.MARKDOWN):
        body = mark_safe(documents.render_markdown(doc.inline_content))  # noqa: S308 - sanitised by nh3
    return render(request, "devportal/document.html", {"api": api, "doc": doc, "body": body})
