"""The one paginator of the local AWS's listings.

Every listing the patches answer page by page takes its pages from here; each
service keeps its own wire format (the names of its parameters and tokens,
its documented page-size limit, its own error when this module raises
``PageError``):

* offset pages (``offset_page``), for the services that answer with an opaque
  next-page token: ECS (``maxResults``/``nextToken``) and Cloud Map
  (``MaxResults``/``NextToken``).  The token holds the offset of the next
  page, so, as README.md says, it is not stable if the list changes between
  pages;
* cursor pages (``cursor_page``), for Route 53, where the caller names the
  first item to list (``StartRecordName``…, ``DNSName``…) and the answer names
  the first item of the next page (``NextRecordName``…, ``NextDNSName``…).

No moto imports: the module is tested on its own (test_paging.py).
"""

from __future__ import annotations

import base64
from bisect import bisect_left
from typing import Any, Callable, Sequence, TypeVar

T = TypeVar("T")

_TOKEN_PREFIX = "localaws"


class PageError(ValueError):
    """A page size or token the caller may not send; the service answers it
    with its own error."""


def page_size(requested: Any, maximum: int, *, clamp: bool = False) -> int:
    """How many items a page holds: ``maximum`` when none is requested (every
    listing here defaults to its maximum), else ``requested``, a whole number
    from 1 up.  Above ``maximum`` it is ``maximum`` if ``clamp`` (Route 53's
    MaxItems), else refused."""
    if requested is None:
        return maximum
    if isinstance(requested, bool) or not isinstance(requested, int) or requested < 1:
        raise PageError(f"page size must be a whole number from 1 to {maximum}, not {requested!r}")
    if requested > maximum:
        if not clamp:
            raise PageError(f"page size must be a whole number from 1 to {maximum}, not {requested!r}")
        return maximum
    return requested


def _window(items: Sequence[T], start: int, size: int) -> tuple[list[T], int | None]:
    """``size`` items from index ``start`` on, and the index of the next page
    (None when this page reaches the end)."""
    end = start + size
    return list(items[start:end]), (end if end < len(items) else None)


def encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"{_TOKEN_PREFIX}:{offset}".encode()).decode()


def decode_token(token: Any) -> int:
    """The offset a token holds; 0 for no token (None or "")."""
    if token is None or token == "":
        return 0
    try:
        prefix, offset = base64.urlsafe_b64decode(str(token).encode()).decode().split(":")
        if prefix != _TOKEN_PREFIX or int(offset) < 0:
            raise ValueError
        return int(offset)
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        raise PageError(f"not a next-page token: {token!r}") from None


def offset_page(items: Sequence[T], size: int, token: Any = None) -> tuple[list[T], str | None]:
    """The page of ``size`` items from ``token`` on (the first page without
    one), and the token of the next page (None on the last)."""
    page, following = _window(items, decode_token(token), size)
    return page, (None if following is None else encode_token(following))


def cursor_page(
    items: Sequence[T], size: int, key: Callable[[T], Any], start: Any = None
) -> tuple[list[T], T | None]:
    """The items in ``key`` order, ``size`` of them from the first whose key
    is ``start`` or after (from the first item without ``start``), and the
    first item of the next page (None on the last).  ``key`` must order the
    items strictly, so that walking on from each next item lists every item
    once."""
    ordered = sorted(items, key=key)
    first = 0 if start is None else bisect_left([key(item) for item in ordered], start)
    page, following = _window(ordered, first, size)
    return page, (None if following is None else ordered[following])
