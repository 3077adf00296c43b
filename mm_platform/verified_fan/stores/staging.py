"""Staged parts: a file's normalized records for one campaign, as Parquet in S3. A file is parsed
and validated once; each campaign run reads only its own part."""

from __future__ import annotations

import hashlib
import io
from typing import Any
from urllib.parse import quote, urlparse

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

STAGING_PREFIX = "mm-platform/staged/"


def part_key(file_ref: str, campaign_id: str) -> str:
    digest = hashlib.sha256(file_ref.encode()).hexdigest()[:24]
    return f"{STAGING_PREFIX}{digest}/{quote(campaign_id, safe='')}.parquet"


def put_part(s3: Any, bucket: str, key: str, records: pd.DataFrame) -> str:
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(records, preserve_index=False), buffer, compression="zstd")
    s3.put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())
    return f"s3://{bucket}/{key}"


def get_part(s3: Any, uri: str) -> pd.DataFrame:
    parsed = urlparse(uri)
    body = s3.get_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))["Body"].read()
    return pq.read_table(io.BytesIO(body)).to_pandas(types_mapper=pd.ArrowDtype)
