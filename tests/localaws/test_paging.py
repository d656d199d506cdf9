"""The paginator every paged listing of the local AWS shares (paging.py), in
process: page sizes, offset pages with their tokens, cursor pages.  How each
service uses it, on the wire, is tested with the service."""

from __future__ import annotations

import base64

import pytest

import paging


def test_page_size_defaults_to_the_maximum_and_refuses_what_is_not_a_whole_number_from_1():
    assert paging.page_size(None, 100) == 100
    assert [paging.page_size(n, 100) for n in (1, 7, 100)] == [1, 7, 100]
    for bad in (0, -1, 101, True, False, 1.5, "5", [5]):
        with pytest.raises(paging.PageError):
            paging.page_size(bad, 100)


def test_page_size_above_the_maximum_is_clamped_when_asked():
    assert paging.page_size(1000, 300, clamp=True) == 300
    assert paging.page_size(300, 300, clamp=True) == 300
    assert paging.page_size(299, 300, clamp=True) == 299
    for bad in (0, -5, True):  # clamping is only from above
        with pytest.raises(paging.PageError):
            paging.page_size(bad, 300, clamp=True)
    # a PageError is a ValueError, so one handler takes it and int()'s own
    assert issubclass(paging.PageError, ValueError)


def walk_offsets(items, size):
    pages, tokens, token = [], [], None
    while True:
        page, token = paging.offset_page(items, size, token)
        pages.append(page)
        if token is None:
            return pages, tokens
        tokens.append(token)


def test_offset_pages_list_every_item_once_and_the_last_has_no_token():
    items = list(range(10))
    pages, tokens = walk_offsets(items, 3)
    assert pages == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert [paging.decode_token(t) for t in tokens] == [3, 6, 9]
    # a page that ends exactly at the end is the last: no empty page after it
    assert walk_offsets(list(range(9)), 3)[0] == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert walk_offsets(items, 100)[0] == [items]
    assert paging.offset_page([], 5) == ([], None)
    # no token ("" too) is the first page; a token past the end, an empty last page
    assert paging.offset_page(items, 4, "") == ([0, 1, 2, 3], paging.encode_token(4))
    assert paging.offset_page(items, 4, paging.encode_token(12)) == ([], None)
    # a tuple pages as well, into lists
    assert paging.offset_page(tuple(items), 2, paging.encode_token(8)) == ([8, 9], None)


def test_tokens_are_opaque_offsets_and_others_are_refused():
    for offset in (0, 1, 100, 12345):
        token = paging.encode_token(offset)
        assert token != str(offset)
        assert paging.decode_token(token) == offset
    assert paging.decode_token(None) == 0 and paging.decode_token("") == 0
    forged = [base64.urlsafe_b64encode(text).decode() for text in (b"localaws:-1", b"other:5", b"localaws:x",
                                                                   b"localaws:1:2", b"\xff\xfe")]
    for bad in ("not-a-token", "=", 5, *forged):
        with pytest.raises(paging.PageError):
            paging.decode_token(bad)
        with pytest.raises(paging.PageError):
            paging.offset_page([1, 2, 3], 2, bad)


def test_cursor_pages_follow_the_key_from_the_start_and_name_the_next_item():
    items = ["d", "a", "c", "e", "b"]
    assert paging.cursor_page(items, 2, key=str) == (["a", "b"], "c")
    assert paging.cursor_page(items, 2, key=str, start="c") == (["c", "d"], "e")
    assert paging.cursor_page(items, 2, key=str, start="d") == (["d", "e"], None)
    # a start between keys begins at the next item; past the last, an empty last page
    assert paging.cursor_page(items, 2, key=str, start="bb") == (["c", "d"], "e")
    assert paging.cursor_page(items, 2, key=str, start="z") == ([], None)
    assert paging.cursor_page([], 2, key=str) == ([], None)
    # the input is not reordered
    assert items == ["d", "a", "c", "e", "b"]


def test_walking_cursor_pages_from_each_next_item_lists_every_item_once():
    """As a Route 53 client walks: the next page starts at the key of the item named."""
    def key(record):
        return record["name"], record["id"]

    records = [{"name": f"n{i % 3}", "id": f"{i:03d}"} for i in range(50)]
    for size in (1, 7, 50, 300):
        seen, start = [], None
        while True:
            page, following = paging.cursor_page(records, size, key=key, start=start)
            assert len(page) <= size
            seen.extend(page)
            if following is None:
                break
            start = key(following)
        assert seen == sorted(records, key=key)
