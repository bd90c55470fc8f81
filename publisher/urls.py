"""The Publisher's pages, ``/publisher/`` (its REST is ``api_urls.py``). The Subscriptions
and Analytics tabs belong to the apps above (devportal/urls.py, analytics/urls.py);
tidegate/urls.py mounts them beside these, in the ``publisher`` namespace."""

from django.urls import path

from publisher import design_views, document_views, views

urlpatterns = [
    path("", views.index, name="index"),
    path("apis/create", views.create, name="create"),
    path("apis/import", views.import_asyncapi, name="import"),
    path("apis/import-project", views.import_project, name="import-project"),
    path("apis/<uuid:api_id>", views.detail, name="detail"),
    path("audit", design_views.audit, name="audit"),
    path("apis/<uuid:api_id>/topics", design_views.topics, name="topics"),
    path("apis/<uuid:api_id>/scopes", design_views.scopes, name="scopes"),
    path("apis/<uuid:api_id>/endpoints", design_views.endpoints, name="endpoints"),
    path("apis/<uuid:api_id>/plans", design_views.plans, name="plans"),
    path("apis/<uuid:api_id>/definition", design_views.definition, name="definition"),
    path("apis/<uuid:api_id>/documents", document_views.documents_tab, name="documents"),
    path("apis/<uuid:api_id>/revisions/diff", design_views.revision_diff, name="revision-diff"),
]

# One view per form of the pages above (POST only; each redirects back to its page).
urlpatterns += [
    path("apis/<uuid:api_id>/internal-key", views.internal_key, name="internal-key"),
    path("apis/<uuid:api_id>/revisions/create", views.revision_create, name="revision-create"),
    path("apis/<uuid:api_id>/revisions/restore", views.revision_restore, name="revision-restore"),
    path("apis/<uuid:api_id>/revisions/delete", views.revision_delete, name="revision-delete"),
    path("apis/<uuid:api_id>/deploy", views.revision_deploy, name="deploy"),
    path("apis/<uuid:api_id>/undeploy", views.revision_undeploy, name="undeploy"),
    path("apis/<uuid:api_id>/lifecycle", views.lifecycle_change, name="lifecycle"),
    path("apis/<uuid:api_id>/topics/save", design_views.topic_save, name="topic-save"),
    path("apis/<uuid:api_id>/topics/delete", design_views.topic_delete, name="topic-delete"),
    path("apis/<uuid:api_id>/scopes/save", design_views.scope_save, name="scope-save"),
    path("apis/<uuid:api_id>/scopes/delete", design_views.scope_delete, name="scope-delete"),
    path("apis/<uuid:api_id>/endpoints/save", design_views.endpoints_save, name="endpoints-save"),
    path("apis/<uuid:api_id>/endpoints/test", design_views.endpoints_test, name="endpoints-test"),
    path("apis/<uuid:api_id>/plans/save", design_views.plans_save, name="plans-save"),
    path("apis/<uuid:api_id>/definition/save", design_views.definition_save, name="definition-save"),
    path("apis/<uuid:api_id>/definition/convert", design_views.definition_convert, name="definition-convert"),
    path("apis/<uuid:api_id>/documents/save", document_views.document_save, name="document-save"),
    path("apis/<uuid:api_id>/documents/delete", document_views.document_delete, name="document-delete"),
    path("apis/<uuid:api_id>/thumbnail", document_views.thumbnail_save, name="thumbnail-save"),
]
