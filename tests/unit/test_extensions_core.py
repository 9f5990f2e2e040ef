"""The Extensions API core: registration (internal and external, RIE's refusals), event delivery, the
'all back on next' rule that ends init and invoke, and SHUTDOWN."""

from __future__ import annotations

import itertools
import json

from coldlab.runtime.extensions import (
    MAX_EXTENSIONS,
    ExtDeliver,
    ExtensionFailed,
    ExtensionRegistered,
    ExtensionsCore,
    ExtensionWaiting,
    ExtReply,
    FunctionFacts,
    invoke_event,
)

FACTS = FunctionFacts("fn", "$LATEST", "bootstrap", "123456789012")
tokens = itertools.count(1)


def core(*external: str) -> ExtensionsCore:
    return ExtensionsCore(FACTS, frozenset(external))


def reply(effects: list[object]) -> ExtReply:
    replies = [e for e in effects if isinstance(e, ExtReply)]
    assert len(replies) == 1, effects
    return replies[0]


def register(c: ExtensionsCore, name: str, body: bytes = b'{"events":["INVOKE","SHUTDOWN"]}') -> ExtReply:
    return reply(c.register(next(tokens), name, body, None))


def ext_id(answer: ExtReply) -> str:
    return dict(answer.headers)["Lambda-Extension-Identifier"]


def test_internal_extension_with_events_null_registers_as_aws_lambda_go_does() -> None:
    c = core()
    effects = c.register(next(tokens), "GoLangEnableSIGTERM", b'{"events":null}', None)
    answer = reply(effects)
    assert answer.status == 200
    assert answer.body == {"functionName": "fn", "functionVersion": "$LATEST", "handler": "bootstrap"}
    assert ExtensionRegistered("GoLangEnableSIGTERM", (), True) in effects
    assert len(ext_id(answer)) == 36


def test_account_id_only_when_the_feature_is_asked_for() -> None:
    answer = reply(core("x").register(next(tokens), "x", b"{}", "accountId"))
    assert answer.body is not None and answer.body["accountId"] == "123456789012"


def test_refusals_in_rie_words() -> None:
    c = core("ext")
    assert register(c, "").body == {
        "errorMessage": "Empty extension name",
        "errorType": "Extension.InvalidExtensionName",
    }
    bad_json = register(c, "ext", b"{nope")
    assert bad_json.status == 403 and bad_json.body is not None
    assert bad_json.body["errorType"] == "InvalidRequestFormat"
    shutdown = register(c, "internal", b'{"events":["SHUTDOWN"]}')
    assert shutdown.body == {
        "errorMessage": "SHUTDOWN: ShutdownEventNotSupportedForInternalExtension",
        "errorType": "Extension.InvalidEventType",
    }
    unknown = register(c, "ext", b'{"events":["BOOT"]}')
    assert unknown.body is not None and unknown.body["errorType"] == "Extension.InvalidEventType"
    assert register(c, "ext").status == 200
    twice = register(c, "ext")
    assert twice.status == 403 and twice.body is not None
    assert twice.body["errorType"] == "Extension.InvalidExtensionState"
    assert (
        "State transition from Registered to Registered failed for extension ext"
        in twice.body["errorMessage"]
    )
    assert register(c, "lib", b"{}").status == 200
    again = register(c, "lib", b"{}")
    assert again.body == {
        "errorMessage": "Extension with this name already registered",
        "errorType": "Extension.InvalidExtensionState",
    }


def test_too_many_extensions_and_registration_after_init() -> None:
    c = core()
    for n in range(MAX_EXTENSIONS):
        assert register(c, f"lib{n}", b"{}").status == 200
    assert register(c, "one-more", b"{}").body == {
        "errorMessage": "Extension limit (10) reached",
        "errorType": "Extension.TooManyExtensions",
    }
    late = core()
    late.close_registration()
    assert register(late, "lib", b"{}").body == {
        "errorMessage": "Extension registration closed already",
        "errorType": "Extension.RegistrationClosed",
    }


def test_identifier_checks() -> None:
    c = core()
    missing = reply(c.next_requested(next(tokens), None))
    assert missing.body is not None and missing.body["errorType"] == "Extension.MissingExtensionIdentifier"
    invalid = reply(c.next_requested(next(tokens), "not-a-uuid"))
    assert invalid.body is not None and invalid.body["errorType"] == "Extension.InvalidExtensionIdentifier"
    unknown = reply(c.next_requested(next(tokens), "6f1b2c3d-0000-4000-8000-000000000000"))
    assert unknown.body is not None and unknown.body["errorType"] == "Extension.UnknownExtensionIdentifier"


def test_invoke_is_delivered_and_the_phase_ends_only_when_every_extension_is_back() -> None:
    c = core("ext")
    ext = ext_id(register(c, "ext"))
    lib = ext_id(register(c, "lib", b"{}"))
    assert not c.all_waiting()  # registered, not yet on next: init is not over
    poll = next(tokens)
    assert c.next_requested(poll, ext) == [ExtensionWaiting("ext", first=True)]
    assert not c.all_waiting()
    c.next_requested(next(tokens), lib)  # parks forever: subscribed to nothing
    assert c.all_waiting()
    event = invoke_event("req-1", 1700000000000, "arn:fn", "Root=1-a-b")
    delivered = c.invoke(event)
    assert delivered == [ExtDeliver(poll, event)]
    assert json.loads(json.dumps(event))["tracing"] == {"type": "X-Amzn-Trace-Id", "value": "Root=1-a-b"}
    assert not c.all_waiting()  # ext is working on the INVOKE
    assert c.next_requested(next(tokens), ext) == [ExtensionWaiting("ext", first=False)]
    assert c.all_waiting()


def test_an_event_waits_for_an_extension_that_is_not_polling() -> None:
    c = core("ext")
    ext = ext_id(register(c, "ext", b'{"events":["INVOKE"]}'))
    assert c.invoke(invoke_event("r", 1, "a", "t")) == []
    token = next(tokens)
    effects = c.next_requested(token, ext)
    assert isinstance(effects[-1], ExtDeliver) and effects[-1].token == token


def test_shutdown_goes_to_subscribers_only_with_reason_and_deadline() -> None:
    c = core("ext", "inv")
    ext, inv = ext_id(register(c, "ext")), ext_id(register(c, "inv", b'{"events":["INVOKE"]}'))
    first, second = next(tokens), next(tokens)
    c.next_requested(first, ext)
    c.next_requested(second, inv)
    effects = c.shutdown("spindown", 1234)
    assert effects == [
        ExtDeliver(first, {"eventType": "SHUTDOWN", "shutdownReason": "spindown", "deadlineMs": 1234})
    ]
    assert register(c, "late", b"{}").body is not None  # closed


def test_init_and_exit_errors() -> None:
    c = core("ext")
    ext = ext_id(register(c, "ext"))
    no_type = reply(c.error_posted(next(tokens), ext, "init", None, b"{}"))
    assert no_type.body == {
        "errorMessage": "Lambda-Extension-Function-Error-Type not found",
        "errorType": "Extension.MissingHeader",
    }
    effects = c.error_posted(next(tokens), ext, "init", "Extension.ConfigInvalid", b'{"errorMessage":"x"}')
    assert ExtensionFailed("ext", "init", "Extension.ConfigInvalid", b'{"errorMessage":"x"}') in effects
    assert reply(effects).status == 202
    refused = reply(c.next_requested(next(tokens), ext))
    assert refused.status == 403  # an extension in InitError may not ask for events
    other = core("ext")
    oid = ext_id(register(other, "ext"))
    other.next_requested(next(tokens), oid)
    exit_effects = other.error_posted(next(tokens), oid, "exit", "Extension.Bye", b"")
    assert ExtensionFailed("ext", "exit", "Extension.Bye", b"") in exit_effects
