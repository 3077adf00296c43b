"""The verdict report's text (pure)."""

from __future__ import annotations

from mm_platform.verified_fan.rules.report import slack_escape, verdict_message
from mm_platform.verified_fan.rules.scoring import Counts


def test_slack_control_characters_from_data_are_escaped() -> None:
    assert slack_escape("a & <b> <!channel>") == "a &amp; &lt;b&gt; &lt;!channel&gt;"


def test_every_value_from_data_in_the_report_is_escaped() -> None:
    campaign = {"name": "<!here> & co", "artist": "<@U123>", "type": "a>b", "date": "<!date^1|x>"}
    text, attachments = verdict_message(
        "<!channel>", campaign, Counts(1, 0, 0), None, ["scrubbed/<!everyone>.csv"]
    )
    assert (
        text == "Verified Fan scoring for &lt;!here&gt; &amp; co (&lt;!channel&gt;): "
        "1 verified, 0 rejected, 0 selected"
    )
    scoring, about = attachments
    assert scoring["fallback"] == text
    assert scoring["footer"] == "files: scrubbed/&lt;!everyone&gt;.csv"
    assert [f["value"] for f in about["fields"]] == [
        "&lt;!here&gt; &amp; co",
        "&lt;@U123&gt;",
        "a&gt;b",
        "&lt;!date^1|x&gt;",
    ]
    _, [_, unknown] = verdict_message("<!channel>", None, Counts(1, 0, 0), None, [])
    assert "<" not in unknown["text"]
