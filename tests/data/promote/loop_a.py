"""Half of two modules that feed each other: a.start -> b.middle -> a.finish."""

CALLS: list[str] = []


def start(base: int) -> int:
    CALLS.append("start")
    return base + 1


def finish(middle: int) -> int:
    CALLS.append("finish")
    return middle * 10
