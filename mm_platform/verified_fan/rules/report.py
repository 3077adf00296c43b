"""The verdict report posted to Slack (pure: builds the message, decides nothing about sending)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mm_platform.verified_fan.rules.scoring import Counts

# campaign properties shown in the report when the Campaign Service has them
CAMPAIGN_FIELDS = [("name", "Campaign"), ("artist", "Artist"), ("type", "Type"), ("date", "Date")]


def slack_escape(value: Any) -> str:
    """Text from data as Slack shows it literally: `&`, `<` and `>` are Slack's control characters
    (`<!channel>` would ping everyone, `<url|label>` would make a link), so they are escaped."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _change(now: int, before: int | None) -> str:
    if before is None or now == before:
        return f"{now:,}"
    return f"{now:,} ({now - before:+,})"


def verdict_message(
    campaign_id: str,
    campaign: dict[str, Any] | None,
    counts: Counts,
    previous: Counts | None,
    files: Sequence[str],
) -> tuple[str, list[dict[str, Any]]]:
    """The text and attachments of a campaign's verdict report: the counts with their change since
    the last report, the files behind them, and the campaign's properties. Every value from data
    (campaign id and properties, file names) is escaped for Slack."""
    name = slack_escape((campaign or {}).get("name") or campaign_id)
    campaign_text = slack_escape(campaign_id)
    text = (
        f"Verified Fan scoring for {name} ({campaign_text}): {counts.verified:,} verified, "
        f"{counts.rejected:,} rejected, {counts.selected:,} selected"
    )
    fields = [
        {"title": title, "value": _change(now, None if previous is None else before), "short": True}
        for title, now, before in zip(
            ("Verified", "Rejected", "Selected"), counts, previous or (None, None, None), strict=True
        )
    ]
    scoring = {
        "fallback": text,
        "title": "Scoring" if previous is None else "Scoring (changes since the last report)",
        "color": "#2eb886",
        "fields": fields,
        "footer": "files: " + (", ".join(slack_escape(f) for f in files) if files else "none"),
    }
    if campaign is None:
        about = {"title": "Campaign", "text": f"campaign {campaign_text} is unknown to the campaign service"}
    else:
        about = {
            "title": "Campaign",
            "fields": [
                {"title": title, "value": slack_escape(campaign[key]), "short": True}
                for key, title in CAMPAIGN_FIELDS
                if campaign.get(key) not in (None, "")
            ],
        }
    return text, [scoring, about]
