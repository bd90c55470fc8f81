"""The Admin Portal's overview page; each section's pages are in its own module."""

from django.shortcuts import render

from adminportal.sections import SECTIONS
from portal.pages import role_required
from portal.roles import ADMIN


def done(service):
    """``service`` returning True once it ran: for ``run_service`` with services that return
    nothing (a delete), whose None would read as refused."""

    def call(**kwargs):
        service(**kwargs)
        return True

    return call


@role_required(ADMIN)
def index(request):
    return render(request, "adminportal/index.html", {"sections": SECTIONS[1:]})
