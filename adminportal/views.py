"""The Admin Portal's overview page; each section's pages are in its own module."""

from django.shortcuts import render

from adminportal.sections import SECTIONS
from portal.pages import role_required
from portal.roles import ADMIN


@role_required(ADMIN)
def index(request):
    return render(request, "adminportal/index.html", {"sections": SECTIONS[1:]})
