"""An OpenAI-compatible chat endpoint as a solver (a vLLM / SGLang / TGI server, or a hosted API).

Standard library only (``urllib``): one ``POST {base}/chat/completions`` per question with the
frames as PNG data URLs before the text, greedy decoding (``temperature`` 0), ``max_tokens``.
Connection failures, timeouts, HTTP 429 and 5xx are retried ``retries`` times with exponential
backoff; any other HTTP status, or a reply without ``choices[0].message.content``, is an error
naming the status and the start of the reply body.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from spatialevo.errors import ServiceError, SpatialEvoError

RETRY_STATUS = (408, 429, 500, 502, 503, 504)


def data_url(image: Any) -> str:
    """A PIL image as a ``data:image/png;base64,…`` URL (lossless PNG, fast compression)."""
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="PNG", compress_level=1)  # lossless; level 1 encodes ~5x faster than the default 6
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


@dataclass
class ChatEndpoint:
    """Answers questions through ``url`` (``http://host:8000/v1`` or the full ``…/chat/completions``).

    Attributes:
        model_name: the ``model`` field of each request (the served model's name).
        api_key: sent as ``Authorization: Bearer …`` when given (the CLI reads it from ``--api-key-env``).
        concurrency: requests in flight at once (:meth:`answer` runs a list with a thread pool).
        retries: extra attempts on connection errors, timeouts, 408 / 429 / 5xx.
        backoff_s: wait before retry ``k`` is ``backoff_s * 2**k`` seconds.
    """

    url: str
    model_name: str
    api_key: str | None = None
    max_tokens: int = 64
    temperature: float = 0.0
    timeout_s: float = 120.0
    retries: int = 3
    backoff_s: float = 1.0
    concurrency: int = 4

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise SpatialEvoError(f"--endpoint must be an http(s) URL such as http://localhost:8000/v1, got {self.url!r}")
        if not self.model_name:
            raise SpatialEvoError("--model-name is required with --endpoint (the name the server serves the model under)")
        if self.concurrency < 1 or self.retries < 0 or self.max_tokens < 1:
            raise SpatialEvoError("--concurrency and --max-new-tokens must be at least 1, --retries at least 0")
        base = self.url.rstrip("/")
        self.url = base if base.endswith("/chat/completions") else base + "/chat/completions"
        host = urllib.parse.urlsplit(self.url).hostname or ""
        if self.api_key and self.url.startswith("http://") and host not in ("localhost", "127.0.0.1", "::1"):
            warnings.warn(f"sending the API key to {host} over plain http", stacklevel=2)

    def request(self, prompt: str, images: Sequence[Any]) -> dict[str, Any]:
        """The JSON body of one question."""
        content = [*({"type": "image_url", "image_url": {"url": data_url(im)}} for im in images), {"type": "text", "text": prompt}]
        return {"model": self.model_name, "messages": [{"role": "user", "content": content}],
                "max_tokens": self.max_tokens, "temperature": self.temperature}

    def answer_one(self, prompt: str, images: Sequence[Any]) -> str:
        """The model's reply to one question (retried as the class says)."""
        body = json.dumps(self.request(prompt, images)).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                with urllib.request.urlopen(urllib.request.Request(self.url, body, headers), timeout=self.timeout_s) as resp:
                    return _content(resp.read(), self.url)
            except urllib.error.HTTPError as exc:
                try:
                    snippet = exc.read()[:200].decode("utf-8", "replace")
                except (OSError, http.client.HTTPException):
                    snippet = ""
                last = f"HTTP {exc.code} {exc.reason}: {snippet}"
                if exc.code not in RETRY_STATUS:
                    raise ServiceError(f"{self.url}: {last}") from None
            except (OSError, http.client.HTTPException) as exc:  # connection, timeout, TLS, a reply cut short
                last = str(getattr(exc, "reason", None) or exc) or type(exc).__name__
        raise ServiceError(f"{self.url}: no answer after {self.retries + 1} attempt(s) ({last}); the samples answered so far are "
                           "logged: rerun the same command to resume")

    def answer(self, items: Sequence[tuple[str, Sequence[Any]]]) -> list[str | ServiceError]:
        """Replies to ``(prompt, images)`` items, ``concurrency`` at a time, in order; an item the
        endpoint did not answer holds its :class:`ServiceError` (the others are kept)."""

        def one(item: tuple[str, Sequence[Any]]) -> str | ServiceError:
            try:
                return self.answer_one(*item)
            except ServiceError as exc:
                return exc
            except Exception as exc:  # noqa: BLE001  (any failure of one request must not drop the others' answers)
                return ServiceError(f"{self.url}: {type(exc).__name__}: {exc}")

        if len(items) <= 1 or self.concurrency == 1:
            return [one(it) for it in items]
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(one, items))


def _content(raw: bytes, url: str) -> str:
    try:
        msg = json.loads(raw)["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise ServiceError(f"{url}: not a chat completion reply: {raw[:200].decode('utf-8', 'replace')!r}") from None
    if isinstance(msg, list):  # content parts
        msg = "".join(p.get("text", "") for p in msg if isinstance(p, dict))
    return msg if isinstance(msg, str) else ""
