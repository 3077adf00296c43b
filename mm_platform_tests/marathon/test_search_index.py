"""Member search documents through the official OpenSearch client, against a local HTTP server that
answers the _bulk API (no OpenSearch server can be installed here), and into the embedded table."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from mm_platform.core.sql import engine_for
from mm_platform.marathon.stores import dw_schema as dw
from mm_platform.marathon.stores.search_index import MemberSearchIndex, SearchIndexError
from mm_platform_tests.conftest import RecordedRequest, RecordingServer

DOCUMENTS = [
    {"userId": 7, "handle": "tourist", "DATA_SCIENCE": {"MARATHON_MATCH": {"rank": {"rating": 2900}}}},
    {"userId": 8, "handle": "petr", "DATA_SCIENCE": {"MARATHON_MATCH": {"rank": {"rating": 2800}}}},
]


def bulk_answer(refuse: set[str] = frozenset()):
    def answer(request: RecordedRequest) -> tuple[int, dict]:
        lines = [json.loads(line) for line in str(request.body).splitlines() if line.strip()]
        items = []
        for action in lines[::2]:
            doc_id = action["index"]["_id"]
            status = 400 if doc_id in refuse else 201
            item = {"_index": action["index"]["_index"], "_id": doc_id, "status": status}
            if status == 400:
                item["error"] = {"type": "mapper_parsing_exception", "reason": "bad field"}
            items.append({"index": item})
        return 200, {"took": 1, "errors": bool(refuse), "items": items}

    return answer


def test_documents_are_bulk_indexed_by_coder_id(http_service: RecordingServer) -> None:
    http_service.responder = bulk_answer()
    index = MemberSearchIndex(url=http_service.url, index="member-profiles")
    assert index.publish(DOCUMENTS, engine_for("sqlite://")) == 2
    [bulk] = [r for r in http_service.requests if r.path.startswith("/_bulk")]
    lines = [json.loads(line) for line in str(bulk.body).splitlines()]
    assert lines == [
        {"index": {"_index": "member-profiles", "_id": "7"}},
        DOCUMENTS[0],
        {"index": {"_index": "member-profiles", "_id": "8"}},
        DOCUMENTS[1],
    ]


def test_a_refused_document_fails_with_the_reason(http_service: RecordingServer) -> None:
    http_service.responder = bulk_answer(refuse={"8"})
    index = MemberSearchIndex(url=http_service.url)
    with pytest.raises(SearchIndexError, match=r"1 document\(s\) refused .*mapper_parsing_exception"):
        index.publish(DOCUMENTS, engine_for("sqlite://"))


def test_without_a_url_documents_go_to_the_dw_table(tmp_path) -> None:
    engine = engine_for(f"sqlite:///{tmp_path}/dw.db")
    dw.create_dw_schema(engine)
    index = MemberSearchIndex()
    assert index.publish(DOCUMENTS, engine) == 2
    assert index.publish(DOCUMENTS[:1], engine) == 1  # replaced, not duplicated
    with engine.connect() as conn:
        rows = conn.execute(
            select(dw.member_search_document.c.coder_id, dw.member_search_document.c.document)
        ).all()
    ratings = sorted((c, d["DATA_SCIENCE"]["MARATHON_MATCH"]["rank"]["rating"]) for c, d in rows)
    assert ratings == [(7, 2900), (8, 2800)]
