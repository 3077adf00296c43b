"""Entry Service, Campaign Service and Slack against real local HTTP servers."""

from __future__ import annotations

from pathlib import Path

import pytest

from mm_platform.core.services import ServiceError
from mm_platform.core.slack import SlackError, SlackNotifier
from mm_platform.verified_fan.stores.services import CampaignService, EntryService
from mm_platform_tests.conftest import RecordedRequest, RecordingServer


def test_entry_service_receives_rank_zero_scoring(http_service: RecordingServer) -> None:
    http_service.response = {"inserted": 2, "updated": 0, "found": 2}
    service = EntryService(base_url=http_service.url, token="entry-token")
    records = [
        {"memberId": "m1", "eventId": "e1", "score": 0.9},
        {"memberId": "m2", "eventId": "e1", "score": 0.4},
    ]
    assert service.post_scoring("c1", records) == {"inserted": 2, "updated": 0, "found": 2}
    [call] = http_service.requests
    assert (call.method, call.path, call.body) == (
        "POST",
        "/scoring",
        {"campaignId": "c1", "records": records},
    )
    assert call.headers["Authorization"] == "Bearer entry-token"


def test_campaign_service_lookups(http_service: RecordingServer) -> None:
    def answer(request: RecordedRequest) -> tuple[int, object]:
        if request.path == "/campaigns/c1":
            return 200, {"id": "c1", "name": "Tour 2027", "artist": "Band"}
        if request.path == "/campaigns?eventId=e9":
            return 200, {"campaigns": [{"id": "c1"}, {"id": "c2"}]}
        return 404, {"message": "no such campaign"}

    http_service.responder = answer
    service = CampaignService(base_url=http_service.url)
    assert service.campaign("c1")["name"] == "Tour 2027"
    assert [c["id"] for c in service.campaigns_for_event("e9")] == ["c1", "c2"]
    with pytest.raises(ServiceError, match=r"GET .*/campaigns/zzz answered 404: .*no such campaign"):
        service.campaign("zzz")
    assert service.find("zzz") is None
    assert service.find("c1")["artist"] == "Band"


def test_campaign_service_errors_other_than_not_found_raise(http_service: RecordingServer) -> None:
    http_service.status, http_service.response = 500, {"message": "boom"}
    with pytest.raises(ServiceError, match="answered 500") as raised:
        CampaignService(base_url=http_service.url, retries=0).find("c1")
    assert raised.value.status == 500


def test_a_service_that_is_down_is_a_clear_error() -> None:
    service = EntryService(base_url="http://127.0.0.1:1", retries=0, timeout_seconds=2)
    with pytest.raises(ServiceError, match=r"POST http://127\.0\.0\.1:1/scoring failed: ConnectionError"):
        service.post_scoring("c1", [])


def test_slack_messages_go_through_the_web_api(http_service: RecordingServer) -> None:
    http_service.response = {"ok": True, "channel": "C1", "ts": "1700000000.000100"}
    slack = SlackNotifier(token="xoxb-test", base_url=f"{http_service.url}/api/")
    ts = slack.post("#vf-scoring", "Campaign c1: 10 verified", [{"title": "scoring", "text": "file a.csv"}])
    assert ts == "1700000000.000100"
    [call] = http_service.requests
    assert call.path == "/api/chat.postMessage"
    assert call.headers["Authorization"] == "Bearer xoxb-test"
    assert call.body["channel"] == "#vf-scoring" and call.body["text"] == "Campaign c1: 10 verified"


def test_slack_errors_are_reported(http_service: RecordingServer) -> None:
    http_service.response = {"ok": False, "error": "channel_not_found"}
    slack = SlackNotifier(token="xoxb-test", base_url=f"{http_service.url}/api/")
    with pytest.raises(SlackError, match="channel_not_found"):
        slack.post("#nope", "hello")


def test_without_a_token_messages_are_kept_locally(tmp_path: Path) -> None:
    slack = SlackNotifier(outbox_db_url=f"sqlite:///{tmp_path}/platform.db")
    assert slack.post("#vf-scoring", "first") == "outbox-1"
    assert slack.post("#vf-scoring", "second", [{"text": "x"}]) == "outbox-2"
    assert [(m["channel"], m["text"], m["attachments"]) for m in slack.outbox()] == [
        ("#vf-scoring", "first", None),
        ("#vf-scoring", "second", [{"text": "x"}]),
    ]
    with pytest.raises(SlackError, match="no Slack token and no local outbox"):
        SlackNotifier().post("#c", "x")
