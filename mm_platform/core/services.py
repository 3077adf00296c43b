"""HTTP clients for other teams' services: a session per client and thread (its connections kept
alive between calls) with timeouts, retries on connection errors and 5xx answers, and an optional
bearer token that is never logged."""

from __future__ import annotations

import os
import threading
from typing import Any

import requests
from dagster import ConfigurableResource
from pydantic import Field, PrivateAttr
from requests.adapters import HTTPAdapter
from requests.utils import get_environ_proxies
from urllib3.util.retry import Retry

from mm_platform.core.secrets import redacted


class ServiceError(RuntimeError):
    """The service could not be reached or answered with an error; the message says which."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status of an error answer; None when unreachable


class HttpService(ConfigurableResource):
    base_url: str = Field(description="e.g. https://api.topcoder.com/v5")
    token: str | None = Field(default=None, description="bearer token (bind it with EnvVar)")
    timeout_seconds: float = 10.0
    retries: int = 3
    # read timeouts and 5xx answers are retried for these methods only (connection errors, before
    # anything was sent, for every method); None: all, for services whose writes are idempotent
    retried_methods: list[str] | None = None
    # one session per thread: a session's connection pool is reused by the next call, and requests
    # does not promise that a session is safe to share between threads
    _local: threading.local = PrivateAttr(default_factory=threading.local)

    def _shared_session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._session()
            self._local.session = session
        return session

    def _session(self) -> requests.Session:
        session = requests.Session()
        retry = Retry(
            total=self.retries,
            backoff_factor=0.2,
            status_forcelist=(502, 503, 504),
            allowed_methods=self.retried_methods,
            raise_on_status=False,
        )
        session.mount("http://", HTTPAdapter(max_retries=retry))
        session.mount("https://", HTTPAdapter(max_retries=retry))
        if self.token:
            session.headers["Authorization"] = f"Bearer {self.token}"
        # The environment (proxies, no_proxy, CA bundle) is read once per session rather than on every
        # call, which requests does by default and which cost more than a local service's answer.
        session.proxies = get_environ_proxies(self.base_url)
        session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        session.trust_env = False
        return session

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        url = f"{self.base_url.rstrip('/')}/{path.lstrip('/')}"
        shown = redacted(url)  # errors reach run logs and the inbox: no credentials in them
        try:
            response = self._shared_session().request(method, url, timeout=self.timeout_seconds, **kwargs)
        except requests.RequestException as exc:
            raise ServiceError(f"{method} {shown} failed: {exc.__class__.__name__}: {exc}") from exc
        if response.status_code >= 400:
            raise ServiceError(
                f"{method} {shown} answered {response.status_code}: {response.text[:300]}",
                response.status_code,
            )
        try:
            return response.json() if response.content else {}
        except ValueError:
            return {"body": response.text[:300]}

    def post_json(self, path: str, body: dict[str, Any]) -> Any:
        return self._call("POST", path, json=body)

    def put_json(self, path: str, body: dict[str, Any]) -> Any:
        return self._call("PUT", path, json=body)

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self._call("GET", path, params=params)


class RatingsService(HttpService):
    """The external ratings-calculation service (delegated mode)."""

    def calculate(self, round_id: int) -> dict[str, Any]:
        """POST /ratings/mm/calculate {roundId}: the service answers at once and rates asynchronously;
        it reports the outcome on notification.rating.calculation."""
        return self.post_json("/ratings/mm/calculate", {"roundId": round_id})
