"""Ratings and comments on the Dev Portal's APIs: services, reads and REST v3, in WSO2's shape.

- ``GET /apis/{apiId}/ratings``: every user's stars, the average and yours.
- ``GET|PUT|DELETE /apis/{apiId}/user-rating``: your stars, ``{"rating": 1..5}``, one per
  user and API, changed by putting it again.
- ``GET|POST /apis/{apiId}/comments``: comments at the top of their thread, newest last, each
  with its ``replies``; ``POST {"content", "category", "parentCommentId"}`` (a reply names a
  comment at the top of a thread: threads are one level deep).
- ``GET|PATCH|DELETE /apis/{apiId}/comments/{commentId}``: its author edits and deletes it;
  administrators and the API's provider delete any (moderation).

Comments are plain text: pages escape them, nothing renders HTML or Markdown.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Avg, Count, Prefetch, QuerySet
from django.utils import timezone
from rest_framework.response import Response

from devportal import selectors
from devportal.models import ApiComment, ApiRating
from portal.audit import audit_record
from portal.errors import ApplicationError, Forbidden, NotFound, ValidationFailed
from portal.rest import ScopedAPIView, scopes
from portal.roles import ADMIN, has_role
from publisher.models import Api

MAX_COMMENT = 1000
_CATEGORY = re.compile(r"[a-z][a-z_-]{0,19}")  # fullmatch
DEFAULT_PAGE = 25
MAX_PAGE = 100


def _refuse(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", details=[{"field": field, "message": message}])


def _clean_rating(rating: Any) -> int:
    if isinstance(rating, float) and rating.is_integer():  # JSON's 4.0 is the integer 4
        rating = int(rating)
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise _refuse("rating", "must be a whole number of stars from 1 to 5")
    return rating


def _clean_content(content: Any) -> str:
    if not isinstance(content, str) or not content.strip():
        raise _refuse("content", "is required: write the comment's text")
    if "\x00" in content:
        raise _refuse("content", "must be text")
    if len(content) > MAX_COMMENT:
        raise _refuse("content", f"must be at most {MAX_COMMENT} characters (it has {len(content)})")
    return content.strip().replace("\r\n", "\n")


def _clean_category(category: Any) -> str:
    if category is None:
        return "general"
    if not isinstance(category, str) or not _CATEGORY.fullmatch(category):
        raise _refuse("category", "must be a lower-case word such as general")
    return category


# ------------------------------------------------------------------ reads


def rating_summary(*, api: Api, user=None) -> dict[str, Any]:
    """The average (one decimal, None when no one rated), how many rated, and ``user``'s stars."""
    agg = ApiRating.objects.filter(api=api).aggregate(avg=Avg("rating"), count=Count("id"))
    mine = None
    if user is not None and user.is_authenticated:
        mine = ApiRating.objects.filter(api=api, user=user).values_list("rating", flat=True).first()
    return {
        "average": round(agg["avg"], 1) if agg["avg"] is not None else None,
        "full_stars": int(agg["avg"] + 0.5) if agg["avg"] is not None else 0,
        "count": agg["count"],
        "mine": mine,
    }


def comment_threads(*, api: Api) -> QuerySet[ApiComment]:
    """Comments at the top of their thread, oldest first, their replies and authors read along
    (the page takes the newest PAGE_THREADS: ``page_threads``)."""
    replies = ApiComment.objects.select_related("author").order_by("created_time", "id")
    return (
        ApiComment.objects.filter(api=api, parent__isnull=True)
        .select_related("author")
        .prefetch_related(Prefetch("replies", queryset=replies))
        .order_by("created_time", "id")
    )


def page_threads(*, api: Api) -> tuple[list[ApiComment], int]:
    """What the API page shows: the newest PAGE_THREADS threads, oldest first, and how many
    there are in all."""
    threads = comment_threads(api=api)
    total = threads.count()
    return list(threads[max(0, total - PAGE_THREADS) :]), total


def comment_get(*, api: Api, comment_id) -> ApiComment:
    try:
        comment = ApiComment.objects.select_related("author", "api").filter(api=api, pk=comment_id).first()
    except (ValueError, TypeError, ValidationError):
        comment = None
    if comment is None:
        raise NotFound(f"Comment {comment_id} not found on this API")
    return comment


def may_moderate(*, api: Api, user) -> bool:
    """Administrators and the API's provider delete anyone's comments."""
    return bool(user and user.is_authenticated) and (has_role(user, ADMIN) or api.provider_id == user.pk)


# ------------------------------------------------------------------ services


@transaction.atomic
def rating_set(*, api: Api, user, rating: Any) -> ApiRating:
    """Rate an API 1 to 5 stars; rating it again changes the stars (one rating per user)."""
    rating = _clean_rating(rating)
    row, created = ApiRating.objects.select_for_update().get_or_create(api=api, user=user, defaults={"rating": rating})
    previous = None if created else row.rating
    if not created and row.rating != rating:
        row.rating = rating
        row.save(update_fields=["rating", "updated_time"])
    if previous != rating:
        audit_record(
            actor=user, action="api_rating.set", target=api, detail={"rating": rating, "previousRating": previous}
        )
    return row


@transaction.atomic
def rating_delete(*, api: Api, user) -> bool:
    """Take back one's rating; whether there was one."""
    row = ApiRating.objects.select_for_update().filter(api=api, user=user).first()
    if row is None:
        return False
    audit_record(actor=user, action="api_rating.delete", target=api, detail={"previousRating": row.rating})
    row.delete()
    return True


# How many comments and replies one user may post in a minute, over every API: a person
# types far fewer; a script (sign-up is open) would fill every API page it can see.
COMMENTS_PER_MINUTE = 10
# The newest threads the API page shows; REST pages through them all.
PAGE_THREADS = 50


@transaction.atomic
def comment_create(*, api: Api, user, content: Any, category: Any = "general", parent_id: Any = None) -> ApiComment:
    content = _clean_content(content)
    category = _clean_category(category)
    recent = ApiComment.objects.filter(author=user, created_time__gte=timezone.now() - dt.timedelta(minutes=1))
    if recent.count() >= COMMENTS_PER_MINUTE:
        raise ApplicationError(
            f"At most {COMMENTS_PER_MINUTE} comments a minute: wait a little before posting again", status=429
        )
    parent = None
    if parent_id is not None:
        try:
            parent = ApiComment.objects.filter(api=api, pk=parent_id).first()
        except (ValueError, TypeError, ValidationError):  # not a UUID
            parent = None
        if parent is None:
            raise _refuse("parentCommentId", f"no comment {str(parent_id)[:40]!r} on this API to reply to")
        if parent.parent_id is not None:
            raise _refuse(
                "parentCommentId", "reply to the comment at the top of the thread: replies are one level deep"
            )
    comment = ApiComment.objects.create(api=api, parent=parent, author=user, content=content, category=category)
    audit_record(
        actor=user,
        action="api_comment.create",
        target=comment,
        detail={"api": str(api.pk), "parent": str(parent.pk) if parent else None, "length": len(content)},
    )
    return comment


@transaction.atomic
def comment_update(*, comment: ApiComment, user, content: Any = None, category: Any = None) -> ApiComment:
    """Its author edits a comment's text (and category); no one else may."""
    comment = ApiComment.objects.select_for_update().select_related("author").get(pk=comment.pk)
    if comment.author_id != user.pk:
        raise Forbidden("Only its author edits a comment")
    if content is None and category is None:
        raise _refuse("content", "send the new content (or category)")
    new_content = comment.content if content is None else _clean_content(content)
    new_category = comment.category if category is None else _clean_category(category)
    if (new_content, new_category) != (comment.content, comment.category):
        comment.content, comment.category = new_content, new_category
        comment.updated_time = timezone.now()
        comment.save(update_fields=["content", "category", "updated_time"])
        audit_record(
            actor=user,
            action="api_comment.update",
            target=comment,
            detail={"api": str(comment.api_id), "length": len(new_content)},
        )
    return comment


@transaction.atomic
def comment_delete(*, comment: ApiComment, user) -> None:
    """Its author, an administrator or the API's provider deletes a comment, and its replies."""
    if comment.author_id != user.pk and not may_moderate(api=comment.api, user=user):
        raise Forbidden("Only its author, an administrator or the API's provider deletes a comment")
    replies = comment.replies.count()
    audit_record(
        actor=user,
        action="api_comment.delete",
        target=comment,
        detail={
            "api": str(comment.api_id),
            "author": comment.author.get_username(),
            "moderated": comment.author_id != user.pk,
            "replies": replies,
        },
    )
    comment.delete()


# ------------------------------------------------------------------ REST


def rating_dto(row: ApiRating) -> dict[str, Any]:
    return {"ratingId": str(row.id), "apiId": str(row.api_id), "ratedBy": row.user.get_username(), "rating": row.rating}


def comment_dto(comment: ApiComment, *, with_replies: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": str(comment.id),
        "content": comment.content,
        "category": comment.category,
        "parentCommentId": str(comment.parent_id) if comment.parent_id else None,
        "entryPoint": "devPortal",
        "createdBy": comment.author.get_username(),
        "createdTime": comment.created_time.isoformat(),
        "updatedTime": comment.updated_time.isoformat() if comment.updated_time else None,
    }
    if with_replies and comment.parent_id is None:
        replies = [comment_dto(r, with_replies=False) for r in comment.replies.all()]
        out["replies"] = {"count": len(replies), "list": replies}
    return out


def _page(request) -> tuple[int, int]:
    values = []
    for name, default, top in (("limit", DEFAULT_PAGE, MAX_PAGE), ("offset", 0, None)):
        raw = request.query_params.get(name)
        if raw in (None, ""):
            values.append(default)
            continue
        if not (raw.isascii() and raw.isdigit()) or (top is not None and not 1 <= int(raw) <= top):
            raise _refuse(name, f"must be a whole number{f' from 1 to {top}' if top else ''}")
        values.append(int(raw))
    return values[0], values[1]


def _body(request) -> dict:
    """A JSON object; a field it holds as ``null`` is refused, not taken as left out."""
    if not isinstance(request.data, dict):
        raise ValidationFailed("The body must be a JSON object")
    for field in ("content", "category", "parentCommentId", "rating"):
        if field in request.data and request.data[field] is None:
            raise _refuse(field, "must not be null: leave it out instead")
    return request.data


class ApiRatingListApi(ScopedAPIView):
    """Every rating of an API, its average (``avgRating``) and the caller's (``userRating``)."""

    required_scopes = scopes("apim:subscribe")

    def get(self, request, api_id):
        api = selectors.catalog_get_or_404(api_id, user=request.user)
        limit, offset = _page(request)
        rows = ApiRating.objects.filter(api=api).select_related("user")
        total = rows.count()
        summary = rating_summary(api=api, user=request.user)
        items = [rating_dto(r) for r in rows[offset : offset + limit]]
        return Response(
            {
                "avgRating": summary["average"],
                "userRating": summary["mine"],
                "count": len(items),
                "list": items,
                "pagination": {"offset": offset, "limit": limit, "total": total},
            }
        )


class ApiUserRatingApi(ScopedAPIView):
    """The caller's own rating of an API: ``PUT {"rating": 1..5}`` sets or changes it."""

    required_scopes = scopes("apim:subscribe", PUT="apim:subscribe", DELETE="apim:subscribe")

    def get(self, request, api_id):
        api = selectors.catalog_get_or_404(api_id, user=request.user)
        row = ApiRating.objects.select_related("user").filter(api=api, user=request.user).first()
        if row is None:
            raise NotFound("You have not rated this API")
        return Response(rating_dto(row))

    def put(self, request, api_id):
        api = selectors.catalog_get_or_404(api_id, user=request.user)
        data = _body(request)
        if "rating" not in data:
            raise _refuse("rating", "is required: 1 to 5 stars")
        return Response(rating_dto(rating_set(api=api, user=request.user, rating=data["rating"])))

    def delete(self, request, api_id):
        rating_delete(api=selectors.catalog_get_or_404(api_id, user=request.user), user=request.user)
        return Response(status=200)


class ApiCommentListApi(ScopedAPIView):
    """An API's comments at the top of their threads, oldest first, with their replies."""

    required_scopes = scopes("apim:subscribe", POST="apim:subscribe")

    def get(self, request, api_id):
        api = selectors.catalog_get_or_404(api_id, user=request.user)
        limit, offset = _page(request)
        threads = comment_threads(api=api)
        total = threads.count()
        items = [comment_dto(c) for c in threads[offset : offset + limit]]
        return Response(
            {"count": len(items), "list": items, "pagination": {"offset": offset, "limit": limit, "total": total}}
        )

    def post(self, request, api_id):
        api = selectors.catalog_get_or_404(api_id, user=request.user)
        data = _body(request)
        comment = comment_create(
            api=api,
            user=request.user,
            content=data.get("content"),
            category=data.get("category"),
            parent_id=data.get("parentCommentId"),
        )
        return Response(
            comment_dto(comment),
            status=201,
            headers={"Location": f"/api/am/devportal/v3/apis/{api.pk}/comments/{comment.pk}"},
        )


class ApiCommentDetailApi(ScopedAPIView):
    """One comment (with its replies): its author ``PATCH``es ``content``/``category``; its
    author, an administrator or the API's provider ``DELETE``s it."""

    required_scopes = scopes("apim:subscribe", PATCH="apim:subscribe", DELETE="apim:subscribe")

    def get(self, request, api_id, comment_id):
        api = selectors.catalog_get_or_404(api_id, user=request.user)
        return Response(comment_dto(comment_get(api=api, comment_id=comment_id)))

    def patch(self, request, api_id, comment_id):
        comment = comment_get(api=selectors.catalog_get_or_404(api_id, user=request.user), comment_id=comment_id)
        data = _body(request)
        comment = comment_update(
            comment=comment, user=request.user, content=data.get("content"), category=data.get("category")
        )
        return Response(comment_dto(comment))

    def delete(self, request, api_id, comment_id):
        comment = comment_get(api=selectors.catalog_get_or_404(api_id, user=request.user), comment_id=comment_id)
        comment_delete(comment=comment, user=request.user)
        return Response(status=200)
