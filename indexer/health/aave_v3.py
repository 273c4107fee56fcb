"""Aave v3.0–v3.1 account math (GenericLogic.calculateUserAccountData), exact.

Input is per-asset token amounts (already index-adjusted the protocol's way: ``rayMul`` half-up for
collateral, ``rayMul(scaledVar, normDebt) + stableDebt`` for debt), effective prices and effective
LT/LTV (eMode applied). Output equals ``Pool.getUserAccountData`` to the last unit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from indexer.health.wadray import percent_mul, wad_div
from indexer.types import UINT256_MAX


@dataclass(frozen=True, slots=True)
class AaveAssetInput:
    amount_collateral: int  # token units; counted only when ``is_collateral`` and LT != 0
    amount_debt: int  # token units; counted only when ``is_borrowing``
    price: int  # base-currency units per whole token
    unit: int  # 10**decimals
    ltv: int  # bps, effective
    liquidation_threshold: int  # bps, effective
    is_collateral: bool
    is_borrowing: bool


@dataclass(frozen=True, slots=True)
class AaveAccountData:
    total_collateral_base: int
    total_debt_base: int
    available_borrows_base: int
    current_liquidation_threshold: int
    ltv: int
    health_factor: int


def collateral_base(asset: AaveAssetInput) -> int:
    if not asset.is_collateral or asset.liquidation_threshold == 0:
        return 0
    return asset.amount_collateral * asset.price // asset.unit


def debt_base(asset: AaveAssetInput) -> int:
    return asset.amount_debt * asset.price // asset.unit if asset.is_borrowing else 0


def account_data(assets: Iterable[AaveAssetInput]) -> AaveAccountData:
    total_c = total_d = sum_ltv = sum_lt = 0
    for asset in assets:
        c = collateral_base(asset)
        total_c += c
        sum_ltv += c * asset.ltv
        sum_lt += c * asset.liquidation_threshold
        total_d += debt_base(asset)
    avg_ltv = sum_ltv // total_c if total_c else 0
    avg_lt = sum_lt // total_c if total_c else 0
    hf = UINT256_MAX if total_d == 0 else wad_div(percent_mul(total_c, avg_lt), total_d)
    max_borrow = percent_mul(total_c, avg_ltv)
    available = max_borrow - total_d if max_borrow >= total_d else 0
    return AaveAccountData(total_c, total_d, available, avg_lt, avg_ltv, hf)
