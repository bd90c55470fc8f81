from adminportal.sections import SECTIONS


def admin_sections(request):
    """The Admin Portal's navigation, for its pages (``templates/adminportal/base.html``)."""
    if not request.path.startswith("/admin-portal/"):
        return {}
    return {"admin_sections": SECTIONS}
