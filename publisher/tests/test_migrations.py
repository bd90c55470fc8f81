"""A revision's frozen JSON was stored as ``snapshot`` before migration 0005 renamed the field to
``frozen``: revisions made before it read, deploy and serve the same after it."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations import RenameField

from publisher import services
from publisher.models import ApiRevision
from tests import factories
from tidegate.snapshot.builder import snapshot_build

# Migrating the schema back and forth needs real transactions; the seeded rows come back after.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

BEFORE = ("publisher", "0004_api_tags")
RENAME = ("publisher", "0005_rename_revision_snapshot_to_frozen")


def test_the_rename_is_one_renamefield_so_the_column_keeps_its_data():
    migration = MigrationLoader(connection, ignore_no_migrations=True).get_migration(*RENAME)
    assert [type(op) for op in migration.operations] == [RenameField]
    (op,) = migration.operations
    assert (op.model_name, op.old_name, op.new_name) == ("apirevision", "snapshot", "frozen")


def test_a_revision_made_before_the_rename_reads_deploys_and_serves_the_same_after():
    owner = factories.user("owner", roles=["creator", "publisher"])
    api = factories.api(owner, context="/before")
    frozen = services.api_revision_freeze(api)

    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])  # the schema as it was: the column is still called snapshot
    old_revision = executor.loader.project_state([BEFORE]).apps.get_model("publisher", "ApiRevision")
    made = old_revision.objects.create(
        api_id=api.pk, number=1, description="old", snapshot=frozen, created_by_id=owner.pk
    )

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    revision = ApiRevision.objects.get(pk=made.pk)
    assert (revision.number, revision.description, revision.frozen) == (1, "old", frozen)
    services.api_revision_deploy(api=api, revision=revision, environments=[{"name": "Default"}], deployed_by=owner)
    (served,) = snapshot_build(environments=["Default"], version=1).apis
    assert (served.id, served.context, served.revision) == (str(api.pk), "/before", 1)
