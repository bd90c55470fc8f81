"""The Admin Portal's API categories section: the list (how many APIs each holds), create,
rename or redescribe, delete one no API is in. Each form posts to a view of its own, which
calls one service of ``publisher.categories`` (Admin v4 ``/api-categories`` uses the same)
and redirects back, or shows the page again with the refusal beside what was typed."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from portal.errors import ApplicationError
from portal.pages import role_required
from portal.roles import ADMIN
from publisher.categories import (
    MAX_DESCRIPTION,
    MAX_NAME,
    category_create,
    category_delete,
    category_get,
    category_list,
    category_update,
)


class CategoryForm(forms.Form):
    name = forms.CharField(label="Name", max_length=MAX_NAME, help_text="What developers see and filter the catalog by")
    description = forms.CharField(
        label="Description", max_length=MAX_DESCRIPTION, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


def _page(
    request, *, form: CategoryForm | None = None, editing=None, edit_form: CategoryForm | None = None, status=200
):
    return render(
        request,
        "adminportal/categories.html",
        {
            "categories": category_list(),
            "form": form or CategoryForm(),
            "editing": str(editing) if editing else "",
            "edit_form": edit_form,
        },
        status=status,
    )


def _place(form: CategoryForm, exc: ApplicationError) -> None:
    fields = [d["field"] for d in exc.details if d.get("field") in form.fields]
    if fields:
        for detail in exc.details:
            form.add_error(detail["field"], detail["message"])
    elif exc.status == 409:
        form.add_error("name", exc.description)
    else:
        form.add_error(None, exc.description)


@role_required(ADMIN)
@require_safe
def categories(request):
    return _page(request)


@role_required(ADMIN)
@require_POST
def category_create_view(request):
    form = CategoryForm(request.POST)
    if not form.is_valid():
        return _page(request, form=form, status=400)
    try:
        category = category_create(**form.cleaned_data, user=request.user)
    except ApplicationError as exc:
        _place(form, exc)
        return _page(request, form=form, status=exc.status)
    messages.success(request, f"Created the API category {category.name}: creators can now put their APIs in it.")
    return redirect("adminportal:categories")


@role_required(ADMIN)
@require_POST
def category_update_view(request, category_id):
    category = category_get(category_id)
    form = CategoryForm(request.POST, prefix="edit")
    if not form.is_valid():
        return _page(request, editing=category.pk, edit_form=form, status=400)
    try:
        category = category_update(category=category, **form.cleaned_data, user=request.user)
    except ApplicationError as exc:
        _place(form, exc)
        return _page(request, editing=category.pk, edit_form=form, status=exc.status)
    messages.success(request, f"Saved the API category {category.name}.")
    return redirect("adminportal:categories")


@role_required(ADMIN)
@require_POST
def category_delete_view(request, category_id):
    category = category_get(category_id)
    try:
        category_delete(category=category, user=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.description)
        return redirect("adminportal:categories")
    messages.success(request, f"Deleted the API category {category.name}.")
    return redirect("adminportal:categories")
