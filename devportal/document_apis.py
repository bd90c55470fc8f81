"""Dev Portal REST v3 for an API's documents and thumbnail (read only): the API as the
catalog shows it to the caller (``selectors.catalog_get_or_404``: a RESTRICTED API is 404 to
those without its roles) and its API_LEVEL documents. Visitors who are not signed in read
them as they read the catalog (``BrowsingAllowed``)."""

from __future__ import annotations

from rest_framework.response import Response

from devportal import selectors
from devportal.apis import BrowsingAllowed
from portal.rest import ScopedAPIView, scopes
from publisher import documents
from publisher.document_apis import content_response, thumbnail_response


class CatalogDocumentListApi(ScopedAPIView):
    required_scopes = scopes("apim:subscribe")
    permission_classes = [BrowsingAllowed]

    def get(self, request, api_id):
        api = selectors.catalog_get_or_404(api_id, user=request.user)
        return Response(documents.document_list_dto(documents.document_list(api=api, devportal=True)))


class CatalogDocumentDetailApi(ScopedAPIView):
    required_scopes = scopes("apim:subscribe")
    permission_classes = [BrowsingAllowed]

    def get(self, request, api_id, document_id):
        api = selectors.catalog_get_or_404(api_id, user=request.user)
        return Response(
            documents.document_dto(documents.document_get_or_404(api=api, document_id=document_id, devportal=True))
        )


class CatalogDocumentContentApi(ScopedAPIView):
    required_scopes = scopes("apim:subscribe")
    permission_classes = [BrowsingAllowed]

    def get(self, request, api_id, document_id):
        api = selectors.catalog_get_or_404(api_id, user=request.user)
        return content_response(documents.document_get_or_404(api=api, document_id=document_id, devportal=True))


class CatalogThumbnailApi(ScopedAPIView):
    required_scopes = scopes("apim:subscribe")
    permission_classes = [BrowsingAllowed]

    def get(self, request, api_id):
        return thumbnail_response(selectors.catalog_get_or_404(api_id, user=request.user))
