"""The AsyncAPI examples in docs/publisher.md are true: every YAML block there is a valid
definition, and each pair of *WSO2's extensions in 2.x and in 3.0* (a 2.x document, then
its 3.0 twin) gives the gateway the same topics, declares the same scopes with the same
bindings, and switches security the same way."""

import re
from pathlib import Path

import pytest

from publisher import asyncapi
from tidegate.snapshot.builder import topic_configs

PAGE = Path(__file__).resolve().parent.parent / "docs" / "publisher.md"
SECTION = "### WSO2's extensions in 2.x and in 3.0"
_BLOCK = re.compile(r"^```yaml\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def _blocks(text: str) -> list[str]:
    return [m.group(1) for m in _BLOCK.finditer(text)]


def _section(text: str) -> str:
    start = text.index(SECTION) + len(SECTION)
    end = text.find("\n## ", start)
    nxt = text.find("\n### ", start)
    ends = [e for e in (end, nxt) if e != -1]
    return text[start : min(ends)] if ends else text[start:]


def _pairs() -> list[tuple[str, str]]:
    blocks = _blocks(_section(PAGE.read_text(encoding="utf-8")))
    assert blocks and len(blocks) % 2 == 0, "the section shows each setting as a 2.x block, then a 3.0 one"
    return list(zip(blocks[::2], blocks[1::2], strict=True))


@pytest.mark.parametrize("block", _blocks(PAGE.read_text(encoding="utf-8")))
def test_every_asyncapi_example_of_the_publisher_guide_is_a_valid_definition(block):
    doc = asyncapi.parse_and_validate(block)
    assert asyncapi.topics(doc), "an example shows at least one topic"
    assert asyncapi.warnings(doc) == []


@pytest.mark.parametrize("v2, v3", _pairs())
def test_each_2_x_example_and_its_3_0_twin_mean_the_same_to_the_gateway(v2, v3):
    old, new = asyncapi.parse_and_validate(v2), asyncapi.parse_and_validate(v3)
    assert old["asyncapi"].startswith("2.") and new["asyncapi"] == "3.0.0"
    assert topic_configs(new) == topic_configs(old)
    assert [t.verbs for t in asyncapi.topics(new)] == [t.verbs for t in asyncapi.topics(old)]
    assert [t.parameters for t in asyncapi.topics(new)] == [t.parameters for t in asyncapi.topics(old)]
    assert asyncapi.declared_scopes(new) == asyncapi.declared_scopes(old)
    assert asyncapi.implicit_flow(new).get("x-scopes-bindings") == asyncapi.implicit_flow(old).get("x-scopes-bindings")
    assert asyncapi.is_secured(new) == asyncapi.is_secured(old)
    # Per operation, not only per topic: the verbs' own scopes and mappings agree too.
    assert sorted(asyncapi.operations(new), key=repr) == sorted(asyncapi.operations(old), key=repr)


def test_the_section_covers_every_setting_it_names():
    section = _section(PAGE.read_text(encoding="utf-8"))
    pairs = _pairs()
    assert len(pairs) >= 6
    for extension in ("x-uri-mapping", "x-scopes", "x-scopes-bindings", "x-auth-type: None", "x-wso2-disable-security"):
        assert any(extension in v2 and extension in v3 for v2, v3 in pairs), extension
    assert any("security:" in v3 and "scopes: [" in v3 for _, v3 in pairs)
    assert any("parameters:" in v3 and "{" in v3 for _, v3 in pairs)
    assert "`send` as PUBLISH" in PAGE.read_text(encoding="utf-8") and "availableScopes" in section
