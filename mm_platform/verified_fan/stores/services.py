"""Other teams' services the Verified Fan flow talks to."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from mm_platform.core.services import HttpService, ServiceError


class EntryService(HttpService):
    """Receives the scoring of rank-0 records (REQ-006)."""

    def post_scoring(self, campaign_id: str, records: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """POST /scoring {campaignId, records}; the answer carries the service's counts
        (inserted, updated, found, ...), which the asset reports as metadata."""
        answer = self.post_json("/scoring", {"campaignId": campaign_id, "records": list(records)})
        if not isinstance(answer, dict):
            raise ServiceError(f"entry service answered {answer!r} to /scoring, expected an object")
        return answer


class CampaignService(HttpService):
    """Campaign metadata by campaign id, and campaigns by event id."""

    def campaign(self, campaign_id: str) -> dict[str, Any]:
        answer = self.get_json(f"/campaigns/{quote(campaign_id, safe='')}")
        if not isinstance(answer, dict):
            raise ServiceError(f"campaign service answered {answer!r} for campaign {campaign_id}")
        return answer

    def find(self, campaign_id: str) -> dict[str, Any] | None:
        """The campaign, or None when the service does not know it (404); other errors raise."""
        try:
            return self.campaign(campaign_id)
        except ServiceError as exc:
            if exc.status == 404:
                return None
            raise

    def campaigns_for_event(self, event_id: str) -> list[dict[str, Any]]:
        answer = self.get_json("/campaigns", params={"eventId": event_id})
        campaigns = answer.get("campaigns", answer) if isinstance(answer, dict) else answer
        if not isinstance(campaigns, list):
            raise ServiceError(f"campaign service answered {answer!r} for event {event_id}")
        return campaigns
