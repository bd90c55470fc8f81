"""Schemathesis hooks for tests/test_schemathesis.py (loaded through SCHEMATHESIS_HOOKS).

An archive import needs a real zip, which a JSON value in the configuration cannot carry: the
schema-valid cases of ``POST /apis/import`` upload the archive the test exported from the portal
and renamed (``TIDEGATE_FUZZ_ARCHIVE``). Cases meant to be invalid are left as generated.

Schemathesis (4.32.5) revalidates a case whose body a hook replaced, and judges any body holding
bytes schema-invalid (``Case._validate_component``: ``contains_binary`` -> invalid): the archive, a
valid ``format: binary`` file, would relabel the positive case negative, and the import's 201 would
be reported as "schema-violating request accepted" (ST201). The hook therefore takes the archive as
the body the case was generated with (the body's dirty mark cleared, as Schemathesis itself does for
auth and configured overrides); the case stays positive and every check still runs on it.
"""

import os
from pathlib import Path

import schemathesis
from schemathesis.core.parameters import ParameterLocation

IMPORT = "POST /api/am/publisher/v4/apis/import"
# Operations taking a definition as an upload, inline text or a URL: the configuration gives
# the inline text a valid definition, and an upload or URL beside it would win.
DEFINITION = ("POST /api/am/publisher/v4/apis/import-asyncapi", "PUT /api/am/publisher/v4/apis/{api_id}/asyncapi")


@schemathesis.hook
def map_case(context, case):
    meta = case.meta
    # Only cases valid in every part: a negative header or query beside the body must stay so.
    if meta is None or not meta.generation.mode.is_positive:
        return case
    if any(info.mode.is_negative for info in meta.components.values()):
        return case
    archive = os.environ.get("TIDEGATE_FUZZ_ARCHIVE")
    # The coverage phase's positive cases only: in fuzzing, a case can still turn negative after this hook.
    if archive and case.operation.label == IMPORT and meta.phase.name == "coverage":
        case.body = {"file": Path(archive).read_bytes()}
        meta.clear_dirty(ParameterLocation.BODY)
    elif case.operation.label in DEFINITION and isinstance(case.body, dict) and "inlineAPIDefinition" in case.body:
        case.body = {k: v for k, v in case.body.items() if k not in ("file", "url")}
    return case
