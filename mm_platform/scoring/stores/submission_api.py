"""The Topcoder Submission API calls scoring completes with (spec §4): the review and review summation
of a scored phase, the FAILED status of a submission, and the lookups that keep a retried run from
posting twice when it crashed between posting and recording the post.

The bearer token comes from the config store (SSM SecureString) at call time, so it is neither a
field of this resource (its repr and the Dagster UI show fields) nor an environment variable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from mm_platform.core.services import HttpService

# a submission has one review per phase and type: one page of this size holds them all
LOOKUP_PAGE_SIZE = 100


class SubmissionApi(HttpService):
    """`base_url` is the API root (e.g. https://api.topcoder.com/v5); a challenge's configuration may
    name another (`submissionApiUrl`), taken with `for_base_url`."""

    # a POST answered by a timeout or a 5xx may have been stored: it is not re-sent here; the step's
    # retry asks the API first (find_review) and posts only what is not there
    retried_methods: list[str] | None = ["GET", "PATCH"]

    def for_base_url(self, url: str | None) -> SubmissionApi:
        """This client aimed at `url` (a challenge's own API), or itself when `url` is None."""
        if not url or url == self.base_url:
            return self
        fields = {name: getattr(self, name) for name in type(self).model_fields}
        return type(self)(**{**fields, "base_url": url})

    def post_review(self, body: Mapping[str, Any], token: str | None = None) -> dict[str, Any]:
        """POST /reviews; the API's answer (the stored review with its id)."""
        return self._call("POST", "/reviews", json=dict(body), headers=_auth(token))

    def post_review_summation(self, body: Mapping[str, Any], token: str | None = None) -> dict[str, Any]:
        """POST /reviewSummations; the API's answer (the stored summation with its id)."""
        return self._call("POST", "/reviewSummations", json=dict(body), headers=_auth(token))

    def mark_failed(
        self, submission_id: str, body: Mapping[str, Any], token: str | None = None
    ) -> dict[str, Any]:
        """PATCH /submissions/{id} with the FAILED status and reason (scores.failed_status_payload)."""
        path = f"/submissions/{quote(str(submission_id), safe='')}"
        return self._call("PATCH", path, json=dict(body), headers=_auth(token))

    def find_review(
        self, submission_id: str, type_id: str | None, test_type: str, token: str | None = None
    ) -> dict[str, Any] | None:
        """The review already posted for this submission, review type and phase, or None."""
        params: dict[str, Any] = {"submissionId": submission_id, "perPage": LOOKUP_PAGE_SIZE}
        if type_id is not None:
            params["typeId"] = type_id
        found = self._find("/reviews", params, token)
        # filter again: the API's filters are the server's business, the phase is only in metadata
        return _first(
            found,
            lambda item: (
                (type_id is None or str(item.get("typeId")) == str(type_id)) and _test_type(item) == test_type
            ),
        )

    def find_review_summation(
        self, submission_id: str, test_type: str, token: str | None = None
    ) -> dict[str, Any] | None:
        """The review summation already posted for this submission and phase, or None."""
        params = {"submissionId": submission_id, "perPage": LOOKUP_PAGE_SIZE}
        found = self._find("/reviewSummations", params, token)
        return _first(found, lambda item: _test_type(item) == test_type)

    def reviews_of(self, submission_id: str, token: str | None = None) -> list[dict[str, Any]]:
        """Every review posted for the submission (the demo and the operator check them)."""
        return self._find("/reviews", {"submissionId": submission_id, "perPage": LOOKUP_PAGE_SIZE}, token)

    def _find(self, path: str, params: dict[str, Any], token: str | None) -> list[dict[str, Any]]:
        answer = self._call("GET", path, params=params, headers=_auth(token))
        # the v5 API answers with a bare array; tolerate the {"result": [...]} envelope of older versions
        items = answer.get("result", []) if isinstance(answer, dict) else answer
        submission_id = str(params["submissionId"])
        return [
            item
            for item in items or []
            if isinstance(item, dict) and str(item.get("submissionId")) == submission_id
        ]


def _auth(token: str | None) -> dict[str, str]:
    # overrides the resource's own token (if any) for this call only
    return {"Authorization": f"Bearer {token}"} if token else {}


def _test_type(item: Mapping[str, Any]) -> str | None:
    metadata = item.get("metadata")
    return metadata.get("testType") if isinstance(metadata, dict) else None


def _first(items: list[dict[str, Any]], matches: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
    return next((item for item in items if matches(item)), None)
