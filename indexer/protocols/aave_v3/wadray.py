"""Aave's fixed-point helpers, bit-for-bit (WadRayMath, PercentageMath: half-up rounding).

Python ints do not overflow, so the Solidity overflow guards become no-ops; the results are the same
whenever the Solidity call would not revert.
"""

WAD = 10**18
RAY = 10**27
PERCENTAGE_FACTOR = 10_000


def ray_mul(a: int, b: int) -> int:
    return (a * b + RAY // 2) // RAY


def wad_div(a: int, b: int) -> int:
    return (a * WAD + b // 2) // b


def percent_mul(value: int, percentage: int) -> int:
    return (value * percentage + PERCENTAGE_FACTOR // 2) // PERCENTAGE_FACTOR


def percent_div(value: int, percentage: int) -> int:
    return (value * PERCENTAGE_FACTOR + percentage // 2) // percentage
