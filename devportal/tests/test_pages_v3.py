"""The Dev Portal on an AsyncAPI 3.0 API (issue 17): its topics, Try Out commands and live
console read the 3.0 definition (channels' addresses, receive/send operations), the console
prefills each topic's frame from its message's ``examples`` or its payload schema's
``examples``, and the documentation frame gets the 3.0 document for the web component."""

import html
import json
import re

import pytest
from django.test import Client

from publisher import services as pub
from tests import factories
from testsupport import documents

pytestmark = pytest.mark.django_db


@pytest.fixture
def rooms():
    owner = factories.user("owner", roles=["creator", "publisher"])
    api = pub.api_import_asyncapi(
        provider=owner, document=documents.rooms_doc_v3("ws://127.0.0.1:1"), properties={"context": "/rooms"}
    )
    factories.redeploy(api, owner)
    pub.api_change_lifecycle(api=api, action="Publish", user=owner)
    api.refresh_from_db()
    return api


@pytest.fixture
def web():
    c = Client()
    c.force_login(factories.user("dev"))
    return c


def _json_script(body, element_id):
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', body, re.S)
    assert match, element_id
    return json.loads(match.group(1))


def test_console_and_try_out_read_the_topics_and_examples_of_a_3_0_definition(rooms, web):
    body = web.get(f"/devportal/apis/{rooms.id}").content.decode()
    topics = {t["topic"]: t for t in _json_script(body, "console-topics")}
    assert set(topics) == {"/rooms/{roomID}", "/news"}
    # The message's examples (the message referenced from components) ...
    assert topics["/rooms/{roomID}"]["example"] == '{"text": "hello room"}'
    assert topics["/rooms/{roomID}"]["params"] == ["roomID"] and topics["/rooms/{roomID}"]["secured"]
    # ... and, without any, the payload schema's examples.
    assert topics["/news"]["example"] == '{"title": "Hello"}'
    assert topics["/news"]["url"].endswith("/rooms/1.0.0/news")
    # Try Out's wscat commands and the topic table: receive is PUBLISH, send is SUBSCRIBE.
    commands = re.findall(r'class="wscat-command">(.*?)</pre>', body)
    urls = [html.unescape(c).split()[2].strip("'") for c in commands]
    assert [u.split("/rooms/1.0.0", 1)[1] for u in urls] == ["/rooms/{roomID}", "/news"]
    overview = body.split('id="overview"', 1)[1].split("</section>", 1)[0]
    rows = re.findall(r"<code>(/[^<]*)</code></td><td><span class=\"badge badge-(\w+)\"", overview)
    assert rows == [("/rooms/{roomID}", "PUBLISH"), ("/news", "PUBLISH"), ("/news", "SUBSCRIBE")]


def test_documentation_frame_gets_the_3_0_definition_and_says_its_version(rooms, web):
    page = web.get(f"/devportal/apis/{rooms.id}").content.decode()
    assert "AsyncAPI 3.0.0" in page.split('id="documentation"', 1)[1].split("</section>", 1)[0]
    frame = web.get(f"/devportal/apis/{rooms.id}/documentation").content.decode()
    doc = _json_script(frame, "asyncapi-definition")
    assert doc["asyncapi"] == "3.0.0" and doc["channels"]["rooms"]["address"] == "/rooms/{roomID}"
    assert doc["operations"]["sendToRoom"]["action"] == "receive"
