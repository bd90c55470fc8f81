"""Publisher REST for an API's documents and thumbnail, with WSO2's paths and fields:
``/apis/{apiId}/documents[/{documentId}[/content]]`` and ``/apis/{apiId}/thumbnail``.
The Dev Portal's read-only twins are in devportal/document_apis.py and share
:func:`content_response` and :func:`thumbnail_response`."""

from __future__ import annotations

from django.http import HttpResponse, HttpResponseRedirect
from django.utils.http import content_disposition_header
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from portal.errors import NotFound, ValidationFailed
from portal.rest import ScopedAPIView, scopes
from portal.roles import IsCreatorOrPublisher
from publisher import documents, selectors
from publisher.models import ApiDocument, DocumentSourceType


def _safe(response: HttpResponse) -> HttpResponse:
    for header, value in documents.SAFE_HEADERS.items():
        response[header] = value
    return response


def content_response(doc: ApiDocument) -> HttpResponse:
    """A document's content as WSO2 answers it: inline text as text/plain, a file as a
    download of its allow-listed type, a URL document as 303 to its URL."""
    if doc.source_type == DocumentSourceType.URL:
        response = HttpResponseRedirect(doc.source_url, status=303)
        response.status_code = 303
        return _safe(response)
    if doc.source_type == DocumentSourceType.FILE:
        if not doc.file_name:
            raise NotFound(f"Document {doc.name!r} has no file yet")
        response = HttpResponse(bytes(doc.file_content), content_type=documents.document_file_type(doc))
        response["Content-Disposition"] = content_disposition_header(True, doc.file_name)
        return _safe(response)
    return _safe(HttpResponse(doc.inline_content, content_type="text/plain; charset=utf-8"))


def thumbnail_response(api) -> HttpResponse:
    thumb = documents.thumbnail_get(api)
    if thumb is None:
        raise NotFound("This API has no thumbnail")
    response = HttpResponse(bytes(thumb.content), content_type=thumb.content_type)
    response["Cache-Control"] = "private, max-age=300"
    return _safe(response)


def _body(request) -> dict:
    if request.stream is None or not isinstance(request.data, dict):
        raise ValidationFailed("Send the document as a JSON object")
    return dict(request.data)


class ApiDocumentListCreateApi(ScopedAPIView):
    """``GET`` the API's documents; ``POST`` a new one (WSO2's Document; its content goes to
    ``.../content``, or, for INLINE and MARKDOWN, in ``inlineContent`` here)."""

    required_scopes = scopes("apim:api_view", POST="apim:api_create")
    permission_classes = [IsCreatorOrPublisher]

    def get(self, request, api_id):
        api = selectors.api_get_or_404(api_id)
        return Response(documents.document_list_dto(documents.document_list(api=api, user=request.user)))

    def post(self, request, api_id):
        api = selectors.api_get_or_404(api_id)
        body = _body(request)
        inline = body.get("inlineContent")
        doc = documents.document_create(
            api=api, user=request.user, fields=body, inline_content=None if inline is None else inline
        )
        return Response(
            documents.document_dto(doc),
            status=201,
            headers={"Location": f"/api/am/publisher/v4/apis/{api.id}/documents/{doc.id}"},
        )


class ApiDocumentDetailApi(ScopedAPIView):
    required_scopes = scopes("apim:api_view", PUT="apim:api_create", DELETE="apim:api_create")
    permission_classes = [IsCreatorOrPublisher]

    def _doc(self, request, api_id, document_id):
        api = selectors.api_get_or_404(api_id)
        return documents.document_get_or_404(api=api, document_id=document_id, user=request.user)

    def get(self, request, api_id, document_id):
        return Response(documents.document_dto(self._doc(request, api_id, document_id)))

    def put(self, request, api_id, document_id):
        doc = self._doc(request, api_id, document_id)
        body = _body(request)
        doc = documents.document_update(
            document=doc, user=request.user, fields=body, inline_content=body.get("inlineContent")
        )
        return Response(documents.document_dto(doc))

    def delete(self, request, api_id, document_id):
        documents.document_delete(document=self._doc(request, api_id, document_id), user=request.user)
        return Response(status=200)


class ApiDocumentContentApi(ScopedAPIView):
    """``GET`` the content; ``POST`` it as multipart ``file`` (FILE documents; INLINE and
    MARKDOWN take a UTF-8 text file too) or ``inlineContent`` (a form field or JSON)."""

    required_scopes = scopes("apim:api_view", POST="apim:api_create")
    permission_classes = [IsCreatorOrPublisher]
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def get(self, request, api_id, document_id):
        api = selectors.api_get_or_404(api_id)
        return content_response(documents.document_get_or_404(api=api, document_id=document_id, user=request.user))

    def post(self, request, api_id, document_id):
        api = selectors.api_get_or_404(api_id)
        doc = documents.document_get_or_404(api=api, document_id=document_id, user=request.user)
        if not hasattr(request.data, "get"):
            raise ValidationFailed("Send multipart 'file' or 'inlineContent'")
        upload = request.FILES.get("file")
        if upload is not None and upload.size > documents.MAX_DOCUMENT_FILE_BYTES:
            raise ValidationFailed(
                f"file: larger than {documents.MAX_DOCUMENT_FILE_BYTES // 1024 // 1024} MiB",
                details=[{"field": "file", "message": "too large"}],
            )
        inline = request.data.get("inlineContent")
        if upload is None and inline is None:
            raise ValidationFailed("Send multipart 'file' or 'inlineContent'")
        doc = documents.document_content_set(
            document=doc,
            user=request.user,
            inline_content=inline if upload is None else None,
            file_name=upload.name if upload is not None else None,
            file_bytes=upload.read() if upload is not None else None,
        )
        return Response(documents.document_dto(doc), status=201)


class ApiThumbnailApi(ScopedAPIView):
    """``GET`` the thumbnail (the image); ``PUT`` a new one as multipart ``file``: PNG or JPEG,
    re-encoded; SVG is refused."""

    required_scopes = scopes("apim:api_view", PUT="apim:api_create")
    permission_classes = [IsCreatorOrPublisher]
    parser_classes = [MultiPartParser, FormParser]

    def get(self, request, api_id):
        return thumbnail_response(selectors.api_get_or_404(api_id))

    def put(self, request, api_id):
        api = selectors.api_get_or_404(api_id)
        upload = request.FILES.get("file") if hasattr(request.data, "get") else None
        if upload is None:
            raise ValidationFailed("Send the image as multipart 'file'")
        if upload.size > documents.MAX_THUMBNAIL_BYTES:
            raise ValidationFailed(
                f"file: larger than {documents.MAX_THUMBNAIL_BYTES // 1024} KiB",
                details=[{"field": "file", "message": "too large"}],
            )
        thumb = documents.thumbnail_set(api=api, user=request.user, data=upload.read())
        return Response({"relativePath": f"/apis/{api.id}/thumbnail", "mediaType": thumb.content_type})
