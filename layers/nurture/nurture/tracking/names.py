"""How event names are matched.

Sites send Segment's semantic event names as the spec writes them (`Order Completed`,
`Product Added`, `Checkout Started`), while programs written by hand often say
`order_completed`. Names are compared by a key that ignores case and treats spaces,
underscores and hyphens alike, so these are one event; dots and colons still separate
(`email.clicked`, `form:newsletter-signup`). What is stored keeps the name as sent.
"""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s_-]+")


def event_key(name: str) -> str:
    """`Order Completed`, `order_completed`, `order-completed` -> `order completed`."""
    return _SEPARATORS.sub(" ", name.strip()).lower()
