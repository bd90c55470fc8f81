"""What Try Out offers per topic: ready wscat commands and the live console's targets.
Shared by the Publisher's Internal-Key "Try it" and the Dev Portal's API page."""

import shlex

from publisher import asyncapi
from publisher.dto import security_scheme


def topic_targets(api, urls):
    """Each topic at each environment's gateway: ``(topic, environment name, ws URL, whether
    a token is needed)``. ``/*`` is offered as the context itself; a PROTOTYPED API needs no
    token."""
    for topic in asyncapi.topics(api.definition):
        path = topic.name[:-2] if topic.name.endswith("/*") else topic.name
        secured = topic.secured and api.lifecycle_status != "PROTOTYPED"
        for env in urls:
            yield topic, env["environmentName"], env["URLs"]["ws"] + path, secured


def wscat_commands(api, urls, token: str, *, internal_key: str = "", api_key: str = "") -> list[dict]:
    """One ready command per topic and environment: the token in a header, and a variant
    with ``?access_token=$TOKEN`` for clients that can set no header at all (a URL lands in
    logs and history: such a command never shows the token itself, and a browser asks for a
    connect ticket instead, docs/devportal.md); for an API that takes API keys, one with the
    key in the ``apikey`` header (``api_key``, else ``$APIKEY``), the main command when it
    takes nothing else. With ``internal_key`` (the Publisher's Try
    it), the key in its own header instead."""
    header = api.authorization_header
    kinds = security_scheme(api)
    oauth = "oauth2" in kinds or not kinds
    out = []
    shown = token or "$TOKEN"
    key_header = " -H " + shlex.quote(f"apikey: {api_key or '$APIKEY'}")
    for topic, environment, url, secured in topic_targets(api, urls):
        cmd = f"wscat -c {shlex.quote(url)}"
        if internal_key:
            cmd += " -H " + shlex.quote(f"Internal-Key: {internal_key}")
        elif secured and oauth:
            cmd += " -H " + shlex.quote(f"{header}: Bearer {shown}")
        elif secured:
            cmd += key_header
        out.append(
            {
                "topic": topic.name,
                "verbs": topic.verbs,
                "environment": environment,
                "url": url,
                "command": cmd,
                "secured": secured,
                "query_command": f'wscat -c {shlex.quote(url + "?access_token=")}"$TOKEN"'
                if secured and oauth and not internal_key
                else "",
                "apikey_command": f"wscat -c {shlex.quote(url)}{key_header}"
                if secured and oauth and "api_key" in kinds and not internal_key
                else "",
            }
        )
    return out


def console_topics(api, urls) -> list[dict]:
    """What the live console and the snippets need per topic: its gateway URL, whether it
    takes a token, its parameters and a message to prefill."""
    return [
        {
            "topic": topic.name,
            "environment": environment,
            "url": url,
            "secured": secured,
            "params": list(topic.parameters),
            "example": asyncapi.message_example(api.definition, topic.name),
        }
        for topic, environment, url, secured in topic_targets(api, urls)
    ]
