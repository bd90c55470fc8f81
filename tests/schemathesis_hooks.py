"""Schemathesis hooks for tests/test_schemathesis.py (loaded through SCHEMATHESIS_HOOKS).

An archive import needs a real zip, which a JSON value in the configuration cannot carry: the
schema-valid cases of ``POST /apis/import`` upload the archive the test exported from the portal
and renamed (``TIDEGATE_FUZZ_ARCHIVE``). Cases meant to be invalid are left as generated.

Schemathesis (4.32.5) revalidates a case whose body a hook replaced, and judges any body holding
bytes schema-invalid (``Case._validate_component``: ``contains_binary`` -> invalid): the archive, a
valid ``format: binary`` file, would relabel the positive case negative, and the import's 201 would
be reported as "schema-violating request accepted" (ST201). The hook therefore takes the archive as
the body the case was generated with (its generated-body snapshot replaced, its dirty mark cleared;
Schemathesis likewise takes auth and configured overrides as part of the starting state). The case
stays positive and every check still runs on it. This reaches into CaseMetadata's snapshot of the
pinned Schemathesis version; an upgrade must keep ``POST /apis/import`` reached without an ST201.
"""

import io
import os
from pathlib import Path

import schemathesis
from PIL import Image
from schemathesis.core.parameters import ParameterLocation

IMPORT = "POST /api/am/publisher/v4/apis/import"
# A thumbnail must be a real PNG or JPEG: the schema-valid cases upload a small PNG, the same way.
THUMBNAIL = "PUT /api/am/publisher/v4/apis/{api_id}/thumbnail"
# Operations taking a definition as an upload, inline text or a URL: the configuration gives
# the inline text a valid definition, and an upload or URL beside it would win.
# Revoking an API key needs one the application holds: the positive cases revoke the key the
# test made (TIDEGATE_FUZZ_APIKEY); revoking it again is a no-op 200, as WSO2's is.
APIKEY_REVOKE = "POST /api/am/devportal/v3/applications/{application_id}/api-keys/{key_type}/revoke"
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
    # Every phase's positive cases: under load the coverage phase's share of the time budget can end
    # before it generates its one schema-valid import case, so fuzzing and stateful ones upload it too.
    upload = None
    if archive and case.operation.label == IMPORT:
        upload = Path(archive).read_bytes()
    elif case.operation.label == THUMBNAIL:
        png = io.BytesIO()
        Image.new("RGB", (8, 8), (10, 90, 160)).save(png, format="PNG")
        upload = png.getvalue()
    if upload is not None:
        case.body = {"file": upload}
        # The archive becomes the body as generated: the snapshot Schemathesis compares against
        # (also when a check derives a probe from this case, e.g. ignored_auth) and no pending
        # revalidation, which would call the bytes invalid.
        meta._initial_hashes[ParameterLocation.BODY] = meta._last_validated_hashes[ParameterLocation.BODY]
        meta.clear_dirty(ParameterLocation.BODY)
    elif (
        case.operation.label == APIKEY_REVOKE and isinstance(case.body, dict) and os.environ.get("TIDEGATE_FUZZ_APIKEY")
    ):
        case.body = {**case.body, "apikey": os.environ["TIDEGATE_FUZZ_APIKEY"]}
    elif case.operation.label in DEFINITION and isinstance(case.body, dict) and "inlineAPIDefinition" in case.body:
        case.body = {k: v for k, v in case.body.items() if k not in ("file", "url")}
    return case
