"""Serializer fields that take JSON as the OpenAPI document describes it.

DRF's ``CharField`` turns a number into a string (``{"name": 0}`` becomes ``"0"``), so a
request the document calls invalid (``type: string``) would be accepted. The REST input
serializers use these instead: a value that is not a string is refused with a 400.
"""

from __future__ import annotations

from rest_framework import serializers


class StrictCharField(serializers.CharField):
    default_error_messages = {"not_a_string": "Not a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class StrictRegexField(StrictCharField, serializers.RegexField):
    """``RegexField`` that takes only strings."""
