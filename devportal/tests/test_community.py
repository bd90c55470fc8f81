"""Ratings and comments over Dev Portal REST v3, in WSO2's shape: one rating per user and
API (1 to 5, changeable), the average in the catalog; threaded comments, edited and deleted
by their author, deleted by an administrator or the API's provider; bad input refused with
the usual error body and nothing changed; every change audited."""

from __future__ import annotations

import uuid

import pytest
from rest_framework.test import APIClient

from devportal.models import ApiComment, ApiRating
from portal.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db
DEV = "/api/am/devportal/v3"


def _client(user):
    c = APIClient()
    c.force_authenticate(user)
    return c


@pytest.fixture
def provider():
    return factories.user("owner", roles=["creator", "publisher"])


@pytest.fixture
def api(provider):
    return factories.published_api(provider)


@pytest.fixture
def alice():
    return _client(factories.user("alice"))


@pytest.fixture
def bob():
    return _client(factories.user("bob"))


def test_each_user_rates_once_changes_it_and_the_catalog_shows_the_average(api, alice, bob):
    assert alice.put(f"{DEV}/apis/{api.id}/user-rating", {"rating": 2}, format="json").status_code == 200
    changed = alice.put(f"{DEV}/apis/{api.id}/user-rating", {"rating": 4}, format="json").json()
    assert set(changed) == {"ratingId", "apiId", "ratedBy", "rating"}
    assert (changed["ratedBy"], changed["rating"]) == ("alice", 4)
    bob.put(f"{DEV}/apis/{api.id}/user-rating", {"rating": 5}, format="json")

    ratings = alice.get(f"{DEV}/apis/{api.id}/ratings").json()
    assert ratings["avgRating"] == 4.5 and ratings["userRating"] == 4
    assert sorted((r["ratedBy"], r["rating"]) for r in ratings["list"]) == [("alice", 4), ("bob", 5)]
    assert ApiRating.objects.count() == 2  # once per user: the second PUT changed alice's
    assert alice.get(f"{DEV}/apis").json()["list"][0]["avgRating"] == 4.5
    assert alice.get(f"{DEV}/apis/{api.id}").json()["avgRating"] == 4.5
    assert alice.get(f"{DEV}/apis/{api.id}/user-rating").json()["rating"] == 4

    assert alice.delete(f"{DEV}/apis/{api.id}/user-rating").status_code == 200
    assert alice.get(f"{DEV}/apis/{api.id}/user-rating").status_code == 404
    assert alice.get(f"{DEV}/apis/{api.id}").json()["avgRating"] == 5.0
    assert list(AuditEvent.objects.filter(action__startswith="api_rating").order_by("id").values_list("action", flat=True)) == [
        "api_rating.set", "api_rating.set", "api_rating.set", "api_rating.delete",
    ]  # fmt: skip


@pytest.mark.parametrize("rating", [0, 6, -1, 4.5, "4", True, None])
def test_a_rating_outside_one_to_five_is_a_400_and_changes_nothing(api, alice, rating):
    alice.put(f"{DEV}/apis/{api.id}/user-rating", {"rating": 3}, format="json")
    resp = alice.put(f"{DEV}/apis/{api.id}/user-rating", {"rating": rating}, format="json")
    assert resp.status_code == 400, resp.content
    assert resp.json()["code"] == 400 and resp.json()["error"][0]["field"] == "rating"
    assert alice.get(f"{DEV}/apis/{api.id}/user-rating").json()["rating"] == 3


def test_ratings_and_comments_on_an_unknown_or_unpublished_api_are_404(provider, alice):
    draft = factories.api(provider, context="/draft")
    for api_id in (uuid.uuid4(), draft.id):
        assert alice.post(f"{DEV}/apis/{api_id}/comments", {"content": "hi"}, format="json").status_code == 404
        assert alice.put(f"{DEV}/apis/{api_id}/user-rating", {"rating": 3}, format="json").status_code == 404
        assert alice.get(f"{DEV}/apis/{api_id}/comments").json()["code"] == 404
    assert ApiComment.objects.count() == 0 and ApiRating.objects.count() == 0


def test_comments_are_threaded_with_replies_in_wso2s_shape(api, alice, bob):
    first = alice.post(f"{DEV}/apis/{api.id}/comments", {"content": "Does it resume?", "category": "general"},
                       format="json")  # fmt: skip
    assert first.status_code == 201
    top = first.json()
    assert (top["content"], top["createdBy"], top["category"], top["parentCommentId"]) == (
        "Does it resume?", "alice", "general", None,
    )  # fmt: skip
    reply = bob.post(f"{DEV}/apis/{api.id}/comments", {"content": "Yes", "parentCommentId": top["id"]}, format="json")
    assert reply.status_code == 201 and reply.json()["parentCommentId"] == top["id"]
    alice.post(f"{DEV}/apis/{api.id}/comments", {"content": "Second"}, format="json")

    listed = bob.get(f"{DEV}/apis/{api.id}/comments").json()
    assert [c["content"] for c in listed["list"]] == ["Does it resume?", "Second"]
    assert listed["pagination"]["total"] == 2
    assert [r["content"] for r in listed["list"][0]["replies"]["list"]] == ["Yes"]
    one = bob.get(f"{DEV}/apis/{api.id}/comments/{top['id']}").json()
    assert one["replies"]["count"] == 1

    nested = alice.post(f"{DEV}/apis/{api.id}/comments", {"content": "deeper", "parentCommentId": reply.json()["id"]},
                        format="json")  # fmt: skip
    assert nested.status_code == 400 and nested.json()["error"][0]["field"] == "parentCommentId"
    assert ApiComment.objects.count() == 3


@pytest.mark.parametrize("content", ["", "   ", None, "x" * 1001, ["a list"]])
def test_an_empty_or_oversized_comment_is_a_400_and_posts_nothing(api, alice, content):
    resp = alice.post(f"{DEV}/apis/{api.id}/comments", {"content": content}, format="json")
    assert resp.status_code == 400 and resp.json()["error"][0]["field"] == "content"
    assert ApiComment.objects.count() == 0


def test_authors_edit_and_delete_their_own_others_are_refused_moderators_delete(api, provider, alice, bob):
    top = alice.post(f"{DEV}/apis/{api.id}/comments", {"content": "v1"}, format="json").json()
    url = f"{DEV}/apis/{api.id}/comments/{top['id']}"

    edited = alice.patch(url, {"content": "v2"}, format="json")
    assert edited.status_code == 200 and edited.json()["content"] == "v2" and edited.json()["updatedTime"]
    refused = bob.patch(url, {"content": "hijacked"}, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == 403
    assert bob.delete(url).status_code == 403
    assert ApiComment.objects.get().content == "v2"
    # The API's provider moderates, and so does an administrator.
    assert _client(provider).delete(url).status_code == 200
    second = bob.post(f"{DEV}/apis/{api.id}/comments", {"content": "spam"}, format="json").json()
    root = _client(factories.user("root", roles=["admin"]))
    assert root.delete(f"{DEV}/apis/{api.id}/comments/{second['id']}").status_code == 200
    third = bob.post(f"{DEV}/apis/{api.id}/comments", {"content": "mine"}, format="json").json()
    assert bob.delete(f"{DEV}/apis/{api.id}/comments/{third['id']}").status_code == 200
    assert ApiComment.objects.count() == 0
    deletes = AuditEvent.objects.filter(action="api_comment.delete").order_by("id")
    assert [e.detail["moderated"] for e in deletes] == [True, True, False]
    assert AuditEvent.objects.filter(action="api_comment.update").count() == 1


def test_a_comment_of_another_api_is_not_found_under_this_one(provider, api, alice):
    other = factories.published_api(provider, context="/other")
    top = alice.post(f"{DEV}/apis/{other.id}/comments", {"content": "elsewhere"}, format="json").json()
    assert alice.get(f"{DEV}/apis/{api.id}/comments/{top['id']}").status_code == 404
    assert alice.delete(f"{DEV}/apis/{api.id}/comments/{top['id']}").status_code == 404
    assert ApiComment.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"content": "ok", "category": ""}, "category"),
        ({"content": "ok", "category": "Not A Word"}, "category"),
        ({"content": "ok", "category": "general\n"}, "category"),
        ({"content": "ok", "parentCommentId": ""}, "parentCommentId"),
        ({"content": "ok", "parentCommentId": None}, "parentCommentId"),
        ({"content": "ok", "parentCommentId": str(uuid.uuid4())}, "parentCommentId"),
        ({"content": " " * 10 + "x" * 995}, "content"),  # too long as sent, though not once trimmed
    ],
)
def test_a_comment_the_document_refuses_is_refused_here_too(api, alice, body, field):
    resp = alice.post(f"{DEV}/apis/{api.id}/comments", body, format="json")
    assert resp.status_code == 400, resp.content
    assert resp.json()["error"][0]["field"] == field
    assert ApiComment.objects.count() == 0


def test_a_user_posts_at_most_ten_comments_a_minute_and_the_page_shows_the_newest_threads(api, alice, bob):
    # Sign-up is open and nothing bounded posting: a script filled the API page, which every
    # visitor's request rendered whole.
    from django.test import Client

    from devportal import community

    for i in range(community.COMMENTS_PER_MINUTE):
        assert alice.post(f"{DEV}/apis/{api.id}/comments", {"content": f"c{i}"}, format="json").status_code == 201
    refused = alice.post(f"{DEV}/apis/{api.id}/comments", {"content": "one more"}, format="json")
    assert refused.status_code == 429 and "a minute" in refused.json()["description"]
    assert ApiComment.objects.filter(author__username="alice").count() == community.COMMENTS_PER_MINUTE
    assert bob.post(f"{DEV}/apis/{api.id}/comments", {"content": "mine"}, format="json").status_code == 201

    carol = factories.user("carol")
    ApiComment.objects.bulk_create(  # newer than the others
        ApiComment(api=api, author=carol, content=f"later {i}") for i in range(community.PAGE_THREADS - 1)
    )
    page = Client().get(f"/devportal/apis/{api.id}").content.decode()
    total = community.PAGE_THREADS + community.COMMENTS_PER_MINUTE
    assert f"The newest {community.PAGE_THREADS} of {total} threads." in page
    assert page.count('class="comment"') == community.PAGE_THREADS
    assert ">mine<" in page and ">c9<" not in page  # bob's is among the newest, alice's last is not
