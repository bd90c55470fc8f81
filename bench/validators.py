"""The payload validator the gateway uses (fastjsonschema, through gateway_contract.payloads)
against jsonschema's Draft7Validator, on the benchmark's small object schema and a valid
64-byte message: microseconds per message, in this process.

    python -m bench.validators
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import jsonschema  # noqa: E402

from bench.loadclient import message  # noqa: E402
from gateway_contract.payloads import compile_schema, compile_text_check, parse_json  # noqa: E402

# The payload-validation benchmark target's message schema (bench/run.py).
SCHEMA = {
    "type": "object",
    "required": ["seq", "user", "text"],
    "additionalProperties": False,
    "properties": {
        "seq": {"type": "integer", "minimum": 0},
        "user": {"type": "string", "maxLength": 64},
        "text": {"type": "string", "maxLength": 65536},
    },
}


def _per_call_us(fn, arg, n: int) -> float:
    """The best of five runs of ``n`` calls, in µs per call."""
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(n):
            fn(arg)
        best = min(best, time.perf_counter() - start)
    return best / n * 1e6


def measure(n: int = 20000) -> dict[str, float]:
    text = message(64, as_json=True)
    value = json.loads(text)
    check = compile_schema(SCHEMA)
    draft7 = jsonschema.Draft7Validator(SCHEMA)
    assert check(value) is None and draft7.is_valid(value)
    text_check = compile_text_check(SCHEMA)
    assert text_check(text) is None
    return {
        "gateway_message_us": _per_call_us(text_check, text, n),
        "fastjsonschema_us": _per_call_us(check, value, n),
        "jsonschema_us": _per_call_us(draft7.validate, value, max(1, n // 10)),
        "json_parse_us": _per_call_us(parse_json, text, n),
    }


if __name__ == "__main__":
    print(json.dumps(measure()))
