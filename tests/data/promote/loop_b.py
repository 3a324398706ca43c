"""The other half of the loop: b.middle uses a.start; a.finish uses b.middle."""

CALLS: list[str] = []


def middle(start: int) -> int:
    CALLS.append("middle")
    return start * 2


def other(start: int) -> int:
    CALLS.append("other")
    return start - 1
