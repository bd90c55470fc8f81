"""The Dev Portal's pages for categories, ratings and comments: the catalog's cards (category,
average rating, state) and its category filter with empty states that say what to do; the API
page's stars, comments, replies, edits and deletes, with refusals shown beside what was typed
and comments shown as text, never HTML."""

from __future__ import annotations

import html
import re

import pytest
from django.test import Client

from devportal import community
from devportal.models import ApiComment, ApiRating
from publisher import services as pub
from publisher.categories import category_create
from tests import factories

pytestmark = pytest.mark.django_db


def _web(user):
    c = Client()
    c.force_login(user)
    return c


def _text(resp) -> str:
    return html.unescape(resp.content.decode())


def _words(resp) -> str:
    """What a person reads: tags dropped, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", resp.content.decode())).split()).replace(" .", ".")


@pytest.fixture
def provider():
    return factories.user("owner", roles=["creator", "publisher"])


@pytest.fixture
def admin():
    return factories.user("root", roles=["admin"])


@pytest.fixture
def api(provider, admin):
    api = factories.published_api(provider, context="/weather")
    category_create(name="Weather", user=admin)
    pub.api_update(api=api, user=provider, changes={"categories": ["Weather"]})
    return api


@pytest.fixture
def dev():
    return factories.user("dev")


def test_catalog_cards_show_category_average_rating_and_state_and_filter_by_category(api, provider, dev, admin):
    factories.published_api(provider, context="/chat")
    category_create(name="Chat", user=admin)
    community.rating_set(api=api, user=dev, rating=4)
    community.rating_set(api=api, user=provider, rating=5)
    page = _web(dev).get("/devportal/")
    body = _text(page)
    assert page.status_code == 200
    card = body.split(f'data-api="{api.id}"')[1].split("</article>")[0]
    assert "★ 4.5" in card and "(2)" in card and "Weather" in card and "PUBLISHED" in card
    assert '<option value="Weather"' in body  # the filter offers the categories

    filtered = _web(dev).get("/devportal/", {"category": "Weather"})
    assert f'data-api="{api.id}"' in _text(filtered) and "/chat/1.0.0" not in _text(filtered)
    assert "1 API in Weather" in _words(filtered)
    empty = _words(_web(dev).get("/devportal/", {"category": "Chat"}))
    assert "No APIs are published in Chat" in empty and "show all APIs" in empty


def test_an_empty_catalog_says_what_happens_next(dev):
    body = " ".join(_text(_web(dev).get("/devportal/")).split())
    assert "No APIs are published yet" in body and "subscribe" in body


def test_a_developer_rates_with_stars_changes_it_and_takes_it_back(api, dev):
    web = _web(dev)
    resp = web.post(f"/devportal/apis/{api.id}/rate", {"rating": "2"}, follow=True)
    assert "You rated Chat 2 stars" in _text(resp)
    resp = web.post(f"/devportal/apis/{api.id}/rate", {"rating": "5"}, follow=True)
    body = _words(resp)
    assert "Your rating: 5 stars" in body and "5.0 out of 5 from 1 rating" in body
    assert ApiRating.objects.get().rating == 5
    bad = web.post(f"/devportal/apis/{api.id}/rate", {"rating": "9"}, follow=True)
    assert "from 1 to 5" in _text(bad) and ApiRating.objects.get().rating == 5
    web.post(f"/devportal/apis/{api.id}/rating/remove")
    assert not ApiRating.objects.exists()
    assert "No ratings yet" in _text(web.get(f"/devportal/apis/{api.id}"))


def test_comments_replies_and_edits_are_shown_as_text_never_html(api, dev, provider):
    web = _web(dev)
    web.post(f"/devportal/apis/{api.id}/comments", {"content": "<script>alert(1)</script> does it <b>resume</b>?"})
    top = ApiComment.objects.get()
    _web(provider).post(f"/devportal/apis/{api.id}/comments", {"content": "Yes, it does.", "parent": str(top.id)})
    page = web.get(f"/devportal/apis/{api.id}")
    raw = page.content.decode()
    assert "<script>alert(1)</script>" not in raw and "&lt;script&gt;alert(1)&lt;/script&gt;" in raw
    assert "<b>resume</b>" not in raw
    thread = raw.split(f'id="comment-{top.id}"')[1]
    assert "Yes, it does." in thread.split('class="reply-form"')[0]  # the reply sits in its thread

    web.post(f"/devportal/apis/{api.id}/comments/{top.id}/edit", {"content": "Does it resume after a drop?"})
    assert "Does it resume after a drop?" in _text(web.get(f"/devportal/apis/{api.id}"))
    assert "· edited" in _text(web.get(f"/devportal/apis/{api.id}"))


def test_an_empty_or_oversized_comment_is_refused_beside_what_was_typed(api, dev):
    web = _web(dev)
    long = "word " * 250
    resp = web.post(f"/devportal/apis/{api.id}/comments", {"content": long})
    assert resp.status_code == 400
    body = _text(resp)
    assert "at most 1000 characters" in body and long.strip() in body  # kept, to shorten
    resp = web.post(f"/devportal/apis/{api.id}/comments", {"content": "   "})
    assert resp.status_code == 400 and "write the comment's text" in _text(resp)
    assert not ApiComment.objects.exists()


def test_others_cannot_edit_or_delete_a_comment_but_the_provider_and_admins_moderate(api, dev, provider, admin):
    community.comment_create(api=api, user=dev, content="original")
    comment = ApiComment.objects.get()
    stranger = _web(factories.user("stranger"))
    page = _text(stranger.get(f"/devportal/apis/{api.id}"))
    assert f"/comments/{comment.id}/edit" not in page and f"/comments/{comment.id}/delete" not in page
    resp = stranger.post(f"/devportal/apis/{api.id}/comments/{comment.id}/edit", {"content": "hijack"}, follow=True)
    assert "Only its author edits a comment" in _text(resp)
    stranger.post(f"/devportal/apis/{api.id}/comments/{comment.id}/delete")
    assert ApiComment.objects.get().content == "original"

    owner_page = _text(_web(provider).get(f"/devportal/apis/{api.id}"))
    assert "Delete (moderate)" in owner_page and f"/comments/{comment.id}/edit" not in owner_page
    _web(provider).post(f"/devportal/apis/{api.id}/comments/{comment.id}/delete")
    assert not ApiComment.objects.exists()
    community.comment_create(api=api, user=dev, content="again")
    _web(admin).post(f"/devportal/apis/{api.id}/comments/{ApiComment.objects.get().id}/delete")
    assert not ApiComment.objects.exists()
