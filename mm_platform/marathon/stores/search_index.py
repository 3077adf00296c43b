"""Where member search documents go: an OpenSearch/Elasticsearch index through the official
`opensearch-py` client when a URL is configured, else the DW table `member_search_document`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dagster import ConfigurableResource
from pydantic import Field
from sqlalchemy import Engine

from mm_platform.core.secrets import redacted
from mm_platform.core.sql import db_now, upsert
from mm_platform.marathon.stores import dw_schema as dw


class SearchIndexError(RuntimeError):
    pass


class MemberSearchIndex(ConfigurableResource):
    url: str | None = Field(
        default=None, description="OpenSearch/Elasticsearch URL; unset: the local DW table"
    )
    index: str = "member-profiles"
    username: str | None = None
    password: str | None = None
    timeout_seconds: float = 30.0

    @property
    def target(self) -> str:
        # shown in metadata and errors: never with the URL's credentials
        return f"{redacted(self.url).rstrip('/')}/{self.index}" if self.url else "dw.member_search_document"

    def publish(self, documents: Sequence[dict[str, Any]], dw_engine: Engine) -> int:
        """Index (create or replace, by user id) every document; raises if any was refused."""
        if self.url:
            return self._bulk_index(documents)
        now = db_now()
        with dw_engine.begin() as conn:
            upsert(
                conn,
                dw.member_search_document,
                [
                    {"coder_id": d["userId"], "handle": d["handle"], "document": d, "indexed_at": now}
                    for d in documents
                ],
                keys=["coder_id"],
            )
        return len(documents)

    def _bulk_index(self, documents: Sequence[dict[str, Any]]) -> int:
        from opensearchpy import OpenSearch
        from opensearchpy.helpers import BulkIndexError, bulk

        auth = (self.username, self.password or "") if self.username else None
        client = OpenSearch(
            hosts=[self.url],
            http_auth=auth,
            timeout=self.timeout_seconds,
            max_retries=3,
            retry_on_timeout=True,
        )
        actions = (
            {"_op_type": "index", "_index": self.index, "_id": str(d["userId"]), "_source": d}
            for d in documents
        )
        try:
            indexed, _errors = bulk(client, actions, chunk_size=500, max_retries=3)
        except BulkIndexError as exc:
            first = exc.errors[0] if exc.errors else {}
            raise SearchIndexError(
                f"{len(exc.errors)} document(s) refused by {self.target}: {first}"
            ) from exc
        finally:
            client.close()
        return int(indexed)
