"""``{% thumbnail_url api "devportal" %}``: the URL of an API's thumbnail for a page's
``<img>`` ("" when it has none), through the Publisher's or the Dev Portal's REST, with a
version that changes with the image. One small query per API; the image is not loaded."""

from django import template

from publisher.documents import document_list, thumbnail_version

register = template.Library()
PREFIX = {"publisher": "/api/am/publisher/v4", "devportal": "/api/am/devportal/v3"}


@register.simple_tag
def thumbnail_url(api, portal: str = "devportal") -> str:
    version = thumbnail_version(api)
    return f"{PREFIX[portal]}/apis/{api.id}/thumbnail?v={version}" if version else ""


@register.simple_tag
def devportal_documents(api):
    """The documents the Dev Portal shows for ``api`` (API_LEVEL ones), for its API page."""
    return document_list(api=api, devportal=True)
