"""HttpService reads the proxy environment once per session, and still honours it."""

from __future__ import annotations

import pytest

from mm_platform.core.services import HttpService
from mm_platform_tests.conftest import RecordingServer


def _no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "NO_PROXY",
        "no_proxy",
        "ALL_PROXY",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)


def test_a_proxy_from_the_environment_carries_the_calls(
    http_service: RecordingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_proxy_env(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", http_service.url)  # the recording server plays the proxy
    service = HttpService(base_url="http://lookups.example.invalid", retries=0, timeout_seconds=5)
    assert service.get_json("/api/ords/fnr", params={"personId": "7"}) == {"status": "success"}
    assert service.get_json("/api/ords/fnr", params={"personId": "8"}) == {"status": "success"}
    # a proxy is sent the absolute URL
    assert [r.path for r in http_service.requests] == [
        "http://lookups.example.invalid/api/ords/fnr?personId=7",
        "http://lookups.example.invalid/api/ords/fnr?personId=8",
    ]


def test_no_proxy_sends_the_calls_straight_to_the_service(
    http_service: RecordingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_proxy_env(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    service = HttpService(base_url=http_service.url, retries=0, timeout_seconds=5)
    assert service.get_json("/api/x") == {"status": "success"}
    assert [r.path for r in http_service.requests] == ["/api/x"]
