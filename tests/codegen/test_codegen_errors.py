"""parse_error: JSON error shapes as AWS sends them, and XML bodies from gateways and emulators."""

from __future__ import annotations

from kvs_async import kinesisvideo
from kvs_async.protocol import parse_error


def test_xml_error_body_gives_the_code_and_message() -> None:
    body = (
        b"<?xml version='1.0'?><ErrorResponse><Error><Code>ResourceNotFoundException</Code>"
        b"<Message>no stream &amp; no luck</Message></Error></ErrorResponse>"
    )
    err = parse_error(kinesisvideo.SERVICE, 404, {"x-amzn-RequestId": "r-1"}, body)
    assert type(err) is kinesisvideo.ResourceNotFoundException
    assert err.message == "no stream & no luck" and err.request_id == "r-1"
    assert err.status_code == 404


def test_unknown_xml_code_stays_a_plain_service_error() -> None:
    body = b"<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code></Error></ErrorResponse>"
    err = parse_error(kinesisvideo.SERVICE, 403, {}, body)
    assert err.code == "SignatureDoesNotMatch" and err.message == ""


def test_unreadable_body_falls_back_to_the_status() -> None:
    err = parse_error(kinesisvideo.SERVICE, 502, {}, b"Bad Gateway")
    assert err.code == "HTTP502" and err.retryable
