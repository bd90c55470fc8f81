"""The API page's Ratings and comments section (``#community``): what it shows, and one view
per form (rate, take back a rating, comment or reply, edit, delete). Each calls one service
of ``devportal.community`` and redirects back to the section; a comment refused shows the
page again with the refusal beside what was typed."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from devportal import community, selectors
from portal.errors import ApplicationError

STARS = (1, 2, 3, 4, 5)


def community_context(request, api, **form_state) -> dict:
    """The section's data: the rating summary, the threads, and the state of a form that was
    refused (``comment_text``/``comment_error``/``reply_to``, ``edit_id``/``edit_text``/``edit_error``)."""
    threads, thread_count = community.page_threads(api=api)
    return {
        "rating": community.rating_summary(api=api, user=request.user),
        "stars": STARS,
        "threads": threads,
        "thread_count": thread_count,
        "may_moderate": community.may_moderate(api=api, user=request.user),
        "max_comment": community.MAX_COMMENT,
        "community_form": {
            "comment_text": "",
            "comment_error": "",
            "reply_to": "",
            "edit_id": "",
            "edit_text": "",
            "edit_error": "",
            **form_state,
        },
    }


def _back(api):
    response = redirect("devportal:api", api_id=api.id)
    response["Location"] += "#community"
    return response


def _again(request, api, **form_state):
    from devportal.views import _api_page  # the API page lives there; it imports this module

    response = _api_page(request, api, community=form_state)
    response.status_code = 400
    return response


@login_required
@require_POST
def api_rate(request, api_id):
    api = selectors.catalog_get_or_404(api_id, user=request.user)
    posted = request.POST.get("rating", "")
    try:  # a form posts the stars as text; the service takes a number
        row = community.rating_set(api=api, user=request.user, rating=int(posted) if posted.isdigit() else posted)
    except ApplicationError as exc:
        messages.error(request, exc.description)
        return _back(api)
    messages.success(request, f"You rated {api.name} {row.rating} star{'s' if row.rating != 1 else ''}.")
    return _back(api)


@login_required
@require_POST
def api_rating_remove(request, api_id):
    api = selectors.catalog_get_or_404(api_id, user=request.user)
    if community.rating_delete(api=api, user=request.user):
        messages.success(request, f"Took back your rating of {api.name}.")
    return _back(api)


@login_required
@require_POST
def api_comment(request, api_id):
    api = selectors.catalog_get_or_404(api_id, user=request.user)
    text = request.POST.get("content", "")
    parent = request.POST.get("parent", "")
    try:
        community.comment_create(api=api, user=request.user, content=text, parent_id=parent or None)
    except ApplicationError as exc:
        return _again(request, api, comment_text=text, comment_error=exc.description, reply_to=parent)
    messages.success(request, "Replied." if parent else "Posted your comment.")
    return _back(api)


@login_required
@require_POST
def comment_edit(request, api_id, comment_id):
    api = selectors.catalog_get_or_404(api_id, user=request.user)
    comment = community.comment_get(api=api, comment_id=comment_id)
    text = request.POST.get("content", "")
    try:
        community.comment_update(comment=comment, user=request.user, content=text)
    except ApplicationError as exc:
        if exc.status == 403:
            messages.error(request, exc.description)
            return _back(api)
        return _again(request, api, edit_id=str(comment.id), edit_text=text, edit_error=exc.description)
    messages.success(request, "Saved your comment.")
    return _back(api)


@login_required
@require_POST
def comment_remove(request, api_id, comment_id):
    api = selectors.catalog_get_or_404(api_id, user=request.user)
    comment = community.comment_get(api=api, comment_id=comment_id)
    try:
        community.comment_delete(comment=comment, user=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.description)
        return _back(api)
    messages.success(request, "Deleted the comment.")
    return _back(api)
