"""What every asset of a domain shares in the catalog, in one place: its key prefix and group (the
domain's name), the owning team, a `domain` tag, the domain's partitions and a code version."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from dagster import AssetKey, AssetSpec, PartitionsDefinition, asset


@dataclass(frozen=True)
class Catalog:
    domain: str
    owners: Sequence[str]
    partitions_def: PartitionsDefinition | None = None

    @property
    def tags(self) -> dict[str, str]:
        return {"domain": self.domain}

    def key(self, name: str) -> AssetKey:
        return AssetKey([self.domain, name])

    def asset(self, name: str, *, code_version: str = "1", **kwargs: Any) -> Callable[..., Any]:
        """`@asset` for `<domain>/<name>`; bump `code_version` when what the asset computes changes."""
        return asset(
            key=self.key(name),
            partitions_def=self.partitions_def,
            group_name=self.domain,
            owners=list(self.owners),
            tags=self.tags,
            code_version=code_version,
            **kwargs,
        )

    def spec(self, name: str, **kwargs: Any) -> AssetSpec:
        """An asset of the domain that Dagster does not materialize (a topic, a bucket, a service)."""
        return AssetSpec(
            self.key(name), group_name=self.domain, owners=list(self.owners), tags=self.tags, **kwargs
        )
