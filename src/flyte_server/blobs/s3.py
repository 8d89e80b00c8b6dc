"""A blob store in an S3-compatible bucket (AWS S3, MinIO, moto, ...), with real presigned URLs.

Clients upload straight to the bucket through presigned ``PUT`` URLs (the declared Content-MD5
is part of the signature, so the object must match it; a URL for an object that does not exist
yet also signs ``If-None-Match: *``, so no later PUT replaces what the first one wrote); workers
read and write ``s3://`` URIs with the credentials from :meth:`S3BlobStore.worker_env` — the
workers' own (``--worker-s3-access-key-id``) when given, else the server's when
``share_credentials`` allows it. The server's own reads and writes go through one pooled
aiobotocore client.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import urllib.parse
from typing import Any

import botocore.session
from aiobotocore.session import get_session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from flyte_server.blobs.local import validate_key

__all__ = ["S3BlobStore", "S3StoreError", "parse_s3_url"]

logger = logging.getLogger(__name__)

_MISSING = {"404", "NoSuchKey", "NotFound"}


class S3StoreError(RuntimeError):
    """The bucket cannot be reached or used (bad URL, wrong credentials, missing bucket)."""


def parse_s3_url(url: str) -> tuple[str, str]:
    """``(bucket, prefix)`` of ``s3://bucket/prefix``; the prefix has no leading or trailing ``/``.

    Example:
        >>> parse_s3_url("s3://my-bucket/flyte/data/")
        ('my-bucket', 'flyte/data')
    """
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise S3StoreError(f"{url!r} is not an S3 URL; expected s3://<bucket>[/<prefix>]")
    return parsed.netloc, parsed.path.strip("/")


class S3BlobStore:
    """Objects under ``s3://bucket/prefix``.

    Credentials and endpoint default to the usual AWS environment (``AWS_ACCESS_KEY_ID``,
    ``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL``, ``AWS_REGION``). Call :meth:`open` before
    use and :meth:`close` at shutdown.

    Example:
        >>> store = S3BlobStore("s3://bucket/flyte", endpoint_url="http://127.0.0.1:9000")
        >>> store.native_url("uploads/a.tgz")
        's3://bucket/flyte/uploads/a.tgz'
    """

    def __init__(
        self,
        url: str,
        *,
        endpoint_url: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        region: str | None = None,
        worker_access_key_id: str | None = None,
        worker_secret_access_key: str | None = None,
        share_credentials: bool = True,
    ) -> None:
        self.bucket, self.prefix = parse_s3_url(url)
        self.endpoint_url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
        self._access_key_id = access_key_id or os.environ.get("AWS_ACCESS_KEY_ID") or None
        self._secret_access_key = secret_access_key or os.environ.get("AWS_SECRET_ACCESS_KEY") or None
        self._worker_access_key_id = worker_access_key_id
        self._worker_secret_access_key = worker_secret_access_key
        self.share_credentials = share_credentials
        """Whether workers get the server's own credentials when no worker credentials are given."""
        if share_credentials and not (worker_access_key_id and worker_secret_access_key) and self._access_key_id:
            logger.warning(
                "tasks get the server's own S3 credentials; give them a principal limited to the store with "
                "--worker-s3-access-key-id and --worker-s3-secret-access-key (docs/isolation.md)"
            )
        self.region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        # Path-style addressing works with every S3-compatible server; virtual hosts need DNS.
        style = "path" if self.endpoint_url else "auto"
        self._client_options: dict[str, Any] = {
            "region_name": self.region,
            "endpoint_url": self.endpoint_url,
            "aws_access_key_id": self._access_key_id,
            "aws_secret_access_key": self._secret_access_key,
            "config": Config(signature_version="s3v4", s3={"addressing_style": style}),
        }
        # Presigning is a local computation: a plain botocore client does it without I/O.
        self._presigner = botocore.session.get_session().create_client("s3", **self._client_options)
        self._exit_stack: contextlib.AsyncExitStack | None = None
        self._client: Any = None

    async def open(self) -> None:
        """Connect and check that the bucket exists and the credentials work.

        Raises:
            S3StoreError: the bucket is unreachable, missing, or not accessible.
        """
        if self._client is not None:
            return
        stack = contextlib.AsyncExitStack()
        client = await stack.enter_async_context(get_session().create_client("s3", **self._client_options))
        try:
            await client.head_bucket(Bucket=self.bucket)
        except (ClientError, BotoCoreError, OSError) as e:
            await stack.aclose()
            where = f" at {self.endpoint_url}" if self.endpoint_url else ""
            raise S3StoreError(f"cannot use bucket {self.bucket!r}{where}: {e}") from e
        self._exit_stack, self._client = stack, client

    async def close(self) -> None:
        """Release the connection pool."""
        stack, self._exit_stack, self._client = self._exit_stack, None, None
        if stack is not None:
            await stack.aclose()
        self._presigner.close()

    def _key(self, key: str) -> str:
        validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _require_client(self) -> Any:
        if self._client is None:
            raise S3StoreError("the S3 blob store is not open; call open() first")
        return self._client

    def native_url(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def key_of(self, native_url: str) -> str | None:
        root = f"s3://{self.bucket}/" + (f"{self.prefix}/" if self.prefix else "")
        if not native_url.startswith(root) or len(native_url) == len(root):
            return None
        return native_url[len(root) :]

    async def put(self, key: str, data: bytes) -> str:
        await self._require_client().put_object(Bucket=self.bucket, Key=self._key(key), Body=data)
        return self.native_url(key)

    async def get(self, key: str) -> bytes | None:
        try:
            response = await self._require_client().get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as e:
            if _error_code(e) in _MISSING:
                return None
            raise
        async with response["Body"] as body:
            data: bytes = await body.read()
        return data

    async def put_upload(self, key: str, data: bytes) -> bool:
        try:
            await self._require_client().put_object(Bucket=self.bucket, Key=self._key(key), Body=data, IfNoneMatch="*")
        except ClientError as e:
            if _error_code(e) not in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                raise
            return await self.content_md5(key) == hashlib.md5(data).digest()
        return True

    async def content_md5(self, key: str) -> bytes | None:
        try:
            head = await self._require_client().head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as e:
            if _error_code(e) in _MISSING:
                return None
            raise
        etag = str(head.get("ETag", "")).strip('"')
        if len(etag) == 32 and "-" not in etag:
            return bytes.fromhex(etag)  # a single-part upload's ETag is its MD5
        data = await self.get(key)
        return hashlib.md5(data).digest() if data is not None else None

    async def exists(self, key: str) -> bool:
        try:
            await self._require_client().head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as e:
            if _error_code(e) in _MISSING:
                return False
            raise
        return True

    async def delete(self, key: str) -> None:
        await self._require_client().delete_object(Bucket=self.bucket, Key=self._key(key))

    def sign_upload(
        self, key: str, *, expires_in: float, content_md5: bytes | None, base_url: str, if_absent: bool = False
    ) -> tuple[str, dict[str, str]]:
        if not content_md5:
            raise ValueError("an upload URL needs the content's MD5")
        md5 = base64.b64encode(content_md5).decode()
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(key), "ContentMD5": md5}
        headers = {"Content-MD5": md5}
        if if_absent:
            params["IfNoneMatch"] = "*"
            headers["If-None-Match"] = "*"
        url: str = self._presigner.generate_presigned_url(
            "put_object", Params=params, ExpiresIn=max(1, int(expires_in)), HttpMethod="PUT"
        )
        return url, headers

    def sign_download(self, key: str, *, expires_in: float, base_url: str) -> str:
        url: str = self._presigner.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self._key(key)}, ExpiresIn=max(1, int(expires_in))
        )
        return url

    def worker_env(self) -> dict[str, str]:
        key_id: str | None
        secret: str | None
        if self._worker_access_key_id and self._worker_secret_access_key:
            key_id, secret = self._worker_access_key_id, self._worker_secret_access_key
        elif self.share_credentials:
            key_id, secret = self._access_key_id, self._secret_access_key
        else:
            key_id = secret = None
        env = {
            "FLYTE_AWS_ENDPOINT": self.endpoint_url or "",
            "FLYTE_AWS_ACCESS_KEY_ID": key_id or "",
            "FLYTE_AWS_SECRET_ACCESS_KEY": secret or "",
        }
        return {name: value for name, value in env.items() if value}


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
