"""Slack messages through the official slack_sdk Web API client (dagster-slack's resource has no
base URL, which the tests and a proxy need). Without a token — the embedded stack — messages are kept
in the platform database's `slack_outbox` instead of being sent."""

from __future__ import annotations

from typing import Any

from dagster import ConfigurableResource
from pydantic import Field
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import JSON, Column, DateTime, Integer, String, Table, select

from mm_platform.core.migrations import CORE_VERSIONS, migrated_metadata
from mm_platform.core.sql import db_now, engine_for, ensure_schema

metadata = migrated_metadata("core", CORE_VERSIONS)
slack_outbox = Table(
    "slack_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", String(200), nullable=False),
    Column("text", String(4000), nullable=False),
    Column("attachments", JSON),
    Column("recorded_at", DateTime, nullable=False),
)


class SlackError(RuntimeError):
    pass


class SlackNotifier(ConfigurableResource):
    token: str | None = Field(default=None, description="bot token (bind with EnvVar); unset: record locally")
    base_url: str = "https://slack.com/api/"
    outbox_db_url: str | None = Field(
        default=None, description="where messages are kept when there is no token"
    )

    def post(self, channel: str, text: str, attachments: list[dict[str, Any]] | None = None) -> str:
        """Post a message; returns its timestamp (Slack) or outbox id (local)."""
        if not self.token:
            if not self.outbox_db_url:
                raise SlackError("no Slack token and no local outbox configured")
            engine = ensure_schema(metadata, engine_for(self.outbox_db_url))
            with engine.begin() as conn:
                result = conn.execute(
                    slack_outbox.insert().values(
                        channel=channel,
                        text=text,
                        attachments=attachments,
                        recorded_at=db_now(),
                    )
                )
            return f"outbox-{result.inserted_primary_key[0]}"
        client = WebClient(token=self.token, base_url=self.base_url, timeout=15)
        try:
            response = client.chat_postMessage(channel=channel, text=text, attachments=attachments)
        except SlackApiError as exc:
            raise SlackError(f"Slack refused the message to {channel}: {exc.response.get('error')}") from exc
        return str(response["ts"])

    def outbox(self) -> list[dict[str, Any]]:
        if not self.outbox_db_url:
            return []
        engine = ensure_schema(metadata, engine_for(self.outbox_db_url))
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(slack_outbox).order_by(slack_outbox.c.id))]
