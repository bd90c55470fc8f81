"""API categories: services and REST, in WSO2's shape.

Administrators define them (Admin v4: ``GET``/``POST /api-categories``, ``PUT``/``DELETE
/api-categories/{apiCategoryId}``, fields ``id``, ``name``, ``description``,
``numberOfAPIs``); creators put an API in some by name (``categories`` on the Publisher's API
object); the Dev Portal lists them (``GET /api/am/devportal/v3/api-categories``) and its
catalog filters by one. Names are unique whatever their case.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Lower
from rest_framework.response import Response

from portal.audit import audit_record
from portal.errors import Conflict, NotFound, ValidationFailed
from portal.rest import ScopedAPIView, scopes
from portal.roles import IsAdmin
from publisher import lifecycle
from publisher.models import Api, ApiCategory

MAX_NAME = 80
MAX_DESCRIPTION = 1000


def _refuse(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", details=[{"field": field, "message": message}])


def _clean_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise _refuse("name", "is required: a name of 1 to 80 characters")
    if len(name) > MAX_NAME or any(ord(c) < 32 for c in name):
        raise _refuse("name", f"must be at most {MAX_NAME} printable characters")
    return " ".join(name.split())


def _clean_description(description: Any) -> str:
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION or "\x00" in description:
        raise _refuse("description", f"must be text of at most {MAX_DESCRIPTION} characters")
    return description.strip()


def _assert_name_free(name: str, *, exclude=None) -> None:
    taken = ApiCategory.objects.annotate(lname=Lower("name")).filter(lname=name.lower())
    if exclude is not None:
        taken = taken.exclude(pk=exclude.pk)
    if taken.exists():
        raise Conflict(f"An API category named {name!r} already exists")


def category_list(*, discoverable: bool = False) -> QuerySet[ApiCategory]:
    """Every category by name, each with how many APIs are in it (``api_count``): only those
    the Dev Portal shows when ``discoverable`` (a draft is not counted there)."""
    only = Q(apis__lifecycle_status__in=lifecycle.DISCOVERABLE) if discoverable else None
    return ApiCategory.objects.annotate(api_count=Count("apis", filter=only)).order_by(Lower("name"))


def category_get(category_id) -> ApiCategory:
    try:
        category = category_list().filter(pk=category_id).first()
    except (ValueError, TypeError, ValidationError):
        category = None
    if category is None:
        raise NotFound(f"API category {category_id} not found")
    return category


def category_dto(category: ApiCategory) -> dict[str, Any]:
    count = getattr(category, "api_count", None)
    return {
        "id": str(category.id),
        "name": category.name,
        "description": category.description,
        "numberOfAPIs": category.apis.count() if count is None else count,
    }


def categories_resolve(names: Any, field: str = "categories") -> list[ApiCategory]:
    """The categories an API is put in, from their names (any case); an unknown name, or
    anything but a list of names, is a ValidationFailed naming ``field``."""
    if names is None:
        return []
    if isinstance(names, str) or not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise _refuse(field, "must be a list of API category names")
    wanted = list(dict.fromkeys(" ".join(n.split()) for n in names if n.strip()))
    known = {c.name.lower(): c for c in ApiCategory.objects.all()}
    unknown = [n for n in wanted if n.lower() not in known]
    if unknown:
        offered = ", ".join(sorted(c.name for c in known.values())) or "none yet: an administrator defines them"
        raise _refuse(field, f"no API category is named {unknown[0]!r} (categories: {offered})")
    return list(dict.fromkeys(known[n.lower()] for n in wanted))


@transaction.atomic
def category_create(*, name: Any, description: Any = "", user) -> ApiCategory:
    name = _clean_name(name)
    description = _clean_description(description)
    _assert_name_free(name)
    category = ApiCategory.objects.create(name=name, description=description)
    audit_record(actor=user, action="api_category.create", target=category, detail={"name": name})
    return category


@transaction.atomic
def category_update(*, category: ApiCategory, name: Any, description: Any = "", user) -> ApiCategory:
    """Rename or redescribe a category; the APIs in it stay in it under the new name."""
    category = ApiCategory.objects.select_for_update().get(pk=category.pk)
    name = _clean_name(name)
    description = _clean_description(description)
    _assert_name_free(name, exclude=category)
    before = {"name": category.name, "description": category.description}
    category.name, category.description = name, description
    category.save(update_fields=["name", "description"])
    changed = sorted(k for k, v in before.items() if getattr(category, k) != v)
    if changed:
        audit_record(
            actor=user,
            action="api_category.update",
            target=category,
            detail={"name": name, "previousName": before["name"], "changed": changed},
        )
    return category_get(category.pk)


@transaction.atomic
def category_delete(*, category: ApiCategory, user) -> None:
    """Delete a category no API is in: one in use is refused (409), naming how many."""
    category = ApiCategory.objects.select_for_update().get(pk=category.pk)
    in_use = Api.objects.filter(categories=category).count()
    if in_use:
        raise Conflict(
            f"{in_use} API{'s are' if in_use != 1 else ' is'} in the category {category.name!r}: take it off them first"
        )
    audit_record(actor=user, action="api_category.delete", target=category, detail={"name": category.name})
    category.delete()


def _body(request) -> dict:
    """``name`` and ``description`` (text; left out: empty) of a JSON object."""
    if not isinstance(request.data, dict):
        raise ValidationFailed("The body must be a JSON object with name and description")
    return {"name": request.data.get("name"), "description": request.data.get("description", "")}


def _list_response(*, discoverable: bool = False) -> Response:
    items = [category_dto(c) for c in category_list(discoverable=discoverable)]
    return Response({"count": len(items), "list": items})


class CategoryListCreateApi(ScopedAPIView):
    """API categories by name: ``id``, ``name``, ``description``, ``numberOfAPIs``."""

    required_scopes = scopes("apim:admin", POST="apim:admin")
    permission_classes = [IsAdmin]

    def get(self, request):
        return _list_response()

    def post(self, request):
        data = _body(request)
        category = category_create(name=data["name"], description=data["description"], user=request.user)
        return Response(category_dto(category), status=201)


class CategoryDetailApi(ScopedAPIView):
    """One API category: ``PUT`` takes its ``name`` and ``description``."""

    required_scopes = scopes("apim:admin", PUT="apim:admin", DELETE="apim:admin")
    permission_classes = [IsAdmin]

    def put(self, request, category_id):
        category = category_get(category_id)
        data = _body(request)
        category = category_update(
            category=category, name=data["name"], description=data["description"], user=request.user
        )
        return Response(category_dto(category))

    def delete(self, request, category_id):
        category_delete(category=category_get(category_id), user=request.user)
        return Response(status=200)
