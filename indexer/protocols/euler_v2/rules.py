"""Euler v2 (Euler Vault Kit + Ethereum Vault Connector + EulerRouter) position arithmetic in exact integers.

Each function names the Solidity it mirrors. Paths are those of euler-xyz/euler-vault-kit (``src/EVault/...``),
euler-xyz/ethereum-vault-connector (``src/EthereumVaultConnector.sol``) and euler-xyz/euler-price-oracle
(``src/...``). Solidity's ``/`` on uints floors, as ``//`` does here; nothing below is signed.

Units: LTVs are ``ConfigAmount``s, 1e4 = 100 % (``shared/Constants.sol`` CONFIG_SCALE); debt is an ``Owed``
amount, assets shifted left by 31 bits (``shared/Constants.sol`` INTERNAL_DEBT_PRECISION_SHIFT); values are in
the vault's unit of account, in that asset's own decimals (18 for an address without ``decimals()``, such as
USD = address(840): ``adapter/BaseAdapter.sol`` _getDecimals).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

CONFIG_SCALE = 10_000  # shared/Constants.sol CONFIG_SCALE: an LTV of 1e4 is 100 %
INTERNAL_DEBT_PRECISION_SHIFT = 31  # shared/Constants.sol
WAD = 10**18
VIRTUAL_DEPOSIT_AMOUNT = 10**6  # shared/lib/ConversionHelpers.sol
USD = "0x0000000000000000000000000000000000000348"  # ISO 4217 code 840 as an address, Euler's USD unit of account
DEFAULT_DECIMALS = 18  # adapter/BaseAdapter.sol _getDecimals: an asset without decimals() counts as 18
PYTH_MAX_AHEADNESS = 60  # adapter/pyth/PythOracle.sol MAX_AHEADNESS (1 minute)
PYTH_MIN_EXPONENT, PYTH_MAX_EXPONENT = -20, 12  # adapter/pyth/PythOracle.sol
BASIS_POINTS = 10_000


# --- EVC: accounts (src/EthereumVaultConnector.sol)


def address_prefix(account: str) -> int:
    """getAddressPrefix: the first 19 bytes of the address (``account >> 8``), shared by an owner's 256 accounts."""
    return int(account, 16) >> 8


def have_common_owner(account: str, other: str) -> bool:
    """haveCommonOwner: the two addresses agree on their first 19 bytes."""
    return address_prefix(account) == address_prefix(other)


def sub_account(owner: str, account_id: int) -> int:
    """Account ``account_id`` (0..255) of ``owner``: the owner's address XOR the id (the id lives in the last byte;
    ``setAccountOperator`` builds its bit mask from ``owner ^ account``). Returned as an integer address."""
    if not 0 <= account_id <= 255:
        raise ValueError(f"sub-account id {account_id} is not in 0..255")
    return int(owner, 16) ^ account_id


def sub_account_id(owner: str, account: str) -> int | None:
    """The id of ``account`` among ``owner``'s 256 accounts (owner XOR account), None if they share no prefix. The
    owner is not the address with its last byte cleared: any address of the prefix may be the registered owner."""
    if not have_common_owner(owner, account):
        return None
    return int(owner, 16) ^ int(account, 16)


# --- debt (shared/BorrowUtils.sol, shared/types/Owed.sol)


def current_owed(owed: int, vault_accumulator: int, user_accumulator: int) -> int:
    """BorrowUtils.getCurrentOwed: ``owed * interestAccumulator / user.interestAccumulator`` (Owed.mulDiv, floor);
    0 without debt. ``debtOfExact`` answers this figure."""
    if owed == 0:
        return 0
    return owed * vault_accumulator // user_accumulator


def owed_to_assets_up(owed_exact: int) -> int:
    """Owed.toAssetsUp: the debt in asset units rounded up, ``(owed + 2**31 - 1) >> 31``. ``debtOf`` answers this,
    and LiquidityUtils.getLiabilityValue prices it."""
    if owed_exact == 0:
        return 0
    return (owed_exact + (1 << INTERNAL_DEBT_PRECISION_SHIFT) - 1) >> INTERNAL_DEBT_PRECISION_SHIFT


def owed_to_assets_down(owed_exact: int) -> int:
    """Owed.toAssetsDown: ``owed >> 31``."""
    return owed_exact >> INTERNAL_DEBT_PRECISION_SHIFT


def owed_after_repay(owed_exact: int, assets: int) -> int:
    """The account's ``Owed`` once it repays ``assets``: Borrowing.repay returns at once for 0; otherwise
    BorrowUtils.decreaseBorrow rounds the current debt up to assets first (Owed.toAssetsUp), refuses more than that
    (E_RepayTooMuch, a ValueError here), and books what is left back in Owed units (Assets.toOwed, ``<< 31``). So the
    debt ``debtOf`` shows afterwards is ``toAssetsUp(owed) - assets`` to the unit, and the fraction of an asset unit
    the rounding added stays owed (the docstring of decreaseBorrow calls it an additional cost to the user)."""
    if assets == 0:
        return owed_exact
    owed = owed_to_assets_up(owed_exact)
    if assets > owed:
        raise ValueError(f"repaying {assets} of a debt of {owed}: EVK reverts E_RepayTooMuch")
    return (owed - assets) << INTERNAL_DEBT_PRECISION_SHIFT


# --- vault shares (shared/lib/ConversionHelpers.sol, shared/types/Assets.sol, shared/types/Shares.sol,
# modules/Vault.sol)


def conversion_totals(total_assets: int, total_supply: int) -> tuple[int, int]:
    """ConversionHelpers.conversionTotals: ``totalAssets()`` (cash plus total borrows rounded up) and
    ``totalSupply()``, each plus the virtual deposit of 1e6 that every share conversion uses."""
    return total_assets + VIRTUAL_DEPOSIT_AMOUNT, total_supply + VIRTUAL_DEPOSIT_AMOUNT


def to_shares_down(assets: int, total_assets: int, total_supply: int) -> int:
    """AssetsLib.toSharesDown: ``assets * totalShares / totalAssets`` over the conversion totals, floored; what
    ``deposit(assets)`` mints (``convertToShares``, ``previewDeposit``)."""
    virtual_assets, virtual_shares = conversion_totals(total_assets, total_supply)
    return assets * virtual_shares // virtual_assets


def to_assets_down(shares: int, total_assets: int, total_supply: int) -> int:
    """SharesLib.toAssetsDown: ``shares * totalAssets / totalShares`` over the conversion totals, floored;
    ``convertToAssets``, which the EulerRouter calls to resolve a vault's shares into its asset."""
    virtual_assets, virtual_shares = conversion_totals(total_assets, total_supply)
    return shares * virtual_assets // virtual_shares


def to_assets_up(shares: int, total_assets: int, total_supply: int) -> int:
    """SharesLib.toAssetsUp: the same quotient rounded up; what ``mint(shares)`` takes (``previewMint``), which is
    also the smallest ``deposit`` that mints ``shares`` at these totals."""
    virtual_assets, virtual_shares = conversion_totals(total_assets, total_supply)
    return (shares * virtual_assets + virtual_shares - 1) // virtual_shares


def assets_of_changed_balance(balance: int, held: int, total_assets: int, total_supply: int) -> int:
    """``convertToAssets(balance)`` for an account whose balance went from ``held`` to ``balance`` shares, at the
    totals that change leaves: shares added as ``mint`` adds them (``previewMint`` assets in, Vault.finalizeDeposit
    raising cash and the supply), shares taken away as ``redeem`` takes them (``toAssetsDown`` assets out,
    Vault.finalizeWithdraw). A ``deposit`` minting the added shares lands on the same totals when it is the smallest
    deposit that mints them; a larger deposit minting no more shares leaves the vault a little richer (by less than
    one share's worth), which a share balance alone cannot tell."""
    if balance >= held:
        minted = balance - held
        total_assets += to_assets_up(minted, total_assets, total_supply)
        total_supply += minted
    else:
        burnt = held - balance
        total_assets -= to_assets_down(burnt, total_assets, total_supply)
        total_supply -= burnt
    return to_assets_down(balance, total_assets, total_supply)


# --- LTVs (shared/types/LTVConfig.sol, modules/Governance.sol)


class LTVConfig(NamedTuple):
    """``LTVFull(collateral)``: (borrowLTV, liquidationLTV, initialLiquidationLTV, targetTimestamp, rampDuration)."""

    borrow: int
    liquidation: int
    initial_liquidation: int
    target_timestamp: int
    ramp_duration: int

    @property
    def recognized(self) -> bool:
        """LTVConfig.isRecognizedCollateral: configured at some point (``targetTimestamp != 0``)."""
        return self.target_timestamp != 0


def liquidation_ltv(config: LTVConfig, timestamp: int) -> int:
    """LTVConfig.getLTV(liquidation=true) at ``timestamp``: the target once the ramp is over, or when the target is
    not below the LTV the ramp started from; otherwise ramped down linearly,
    ``target + (initial - target) * (targetTimestamp - timestamp) / rampDuration`` (floor)."""
    if timestamp >= config.target_timestamp or config.liquidation >= config.initial_liquidation:
        return config.liquidation
    remaining = config.target_timestamp - timestamp
    return config.liquidation + (config.initial_liquidation - config.liquidation) * remaining // config.ramp_duration


def borrow_ltv(config: LTVConfig) -> int:
    """LTVConfig.getLTV(liquidation=false): the borrow LTV, never ramped."""
    return config.borrow


def ltv_adjusted(value: int, ltv: int) -> int:
    """LiquidityUtils.getCollateralValue's last step: ``value * ltv / CONFIG_SCALE`` (floor)."""
    return value * ltv // CONFIG_SCALE


# --- prices (euler-price-oracle src/lib/ScaleUtils.sol and the adapters)


class Scale(NamedTuple):
    """ScaleUtils' two powers of ten, as exponents: ``priceScale = 10**price_exp``, ``feedScale = 10**feed_exp``."""

    price_exp: int
    feed_exp: int


def calc_scale(base_decimals: int, quote_decimals: int, feed_decimals: int) -> Scale:
    """ScaleUtils.calcScale: ``from(quoteDecimals, feedDecimals + baseDecimals)`` (ChainlinkOracle, RedstoneCoreOracle;
    the decimals are the adapter's own base and quote, not the direction asked)."""
    return Scale(quote_decimals, feed_decimals + base_decimals)


def pyth_scale(base_decimals: int, quote_decimals: int, expo: int) -> Scale:
    """PythOracle._getQuote: ``feedExponent = baseDecimals - expo``; positive: ``from(quoteDecimals, feedExponent)``,
    else ``from(quoteDecimals - feedExponent, 0)``."""
    feed_exponent = base_decimals - expo
    if feed_exponent > 0:
        return Scale(quote_decimals, feed_exponent)
    return Scale(quote_decimals - feed_exponent, 0)


def out_amount(amount: int, price: int, scale: Scale, inverse: bool) -> int:
    """ScaleUtils.calcOutAmount: ``amount * priceScale * price / feedScale``, or inverted
    ``amount * feedScale / (priceScale * price)`` (fullMulDiv, floor; 0 for a zero price inverted would revert)."""
    price_scale, feed_scale = 10**scale.price_exp, 10**scale.feed_exp
    if inverse:
        return amount * feed_scale // (price_scale * price)
    return amount * price_scale * price // feed_scale


def chainlink_refusal(answer: int, updated_at: int, now: int, max_staleness: int) -> tuple[str, str] | None:
    """ChainlinkOracle._getQuote's checks: ``answer <= 0`` reverts PriceOracle_InvalidAnswer, an answer older than
    ``maxStaleness`` reverts PriceOracle_TooStale. Returns (``"stale"`` or ``"invalid"``, why), None when accepted."""
    if answer <= 0:
        return "invalid", f"answer {answer} <= 0"
    staleness = now - updated_at
    if staleness > max_staleness:
        return "stale", f"answer {staleness}s old > maxStaleness {max_staleness}s"
    return None


def pyth_refusal(price: int, conf: int, expo: int, publish_time: int, now: int, max_staleness: int,
                 max_conf_width: int | None) -> tuple[str, str] | None:
    """PythOracle._fetchPriceStruct's checks on ``getPriceUnsafe``: older than ``maxStaleness`` (stale: a pull oracle
    that needs an update), more than a minute ahead, ``price <= 0``, a confidence above ``maxConfWidth`` basis
    points of the price, an exponent outside [-20, 12] (all PriceOracle_InvalidAnswer on chain)."""
    if publish_time < now:
        if now - publish_time > max_staleness:
            return "stale", f"published {now - publish_time}s ago > maxStaleness {max_staleness}s"
    elif publish_time - now > PYTH_MAX_AHEADNESS:
        return "invalid", f"published {publish_time - now}s ahead of the block"
    if price <= 0:
        return "invalid", f"price {price} <= 0"
    if max_conf_width is not None and conf > price * max_conf_width // BASIS_POINTS:
        return "invalid", f"confidence {conf} wider than {max_conf_width} bp of {price}"
    if not PYTH_MIN_EXPONENT <= expo <= PYTH_MAX_EXPONENT:
        return "invalid", f"exponent {expo} outside [-20, 12]"
    return None


def redstone_refusal(price_timestamp: int, now: int, max_staleness: int) -> tuple[str, str] | None:
    """RedstoneCoreOracle._getQuote: a cached price older than ``maxStaleness`` reverts PriceOracle_TooStale (a
    timestamp ahead of the block is accepted)."""
    if now > price_timestamp and now - price_timestamp > max_staleness:
        return "stale", f"cached price {now - price_timestamp}s old > maxStaleness {max_staleness}s"
    return None


# --- liquidity (shared/LiquidityUtils.sol, modules/RiskManager.sol, modules/Liquidation.sol)


def liquidity(collateral: Iterable[tuple[int, int]], liability_value: int) -> tuple[int, int]:
    """LiquidityUtils.calculateLiquidity: Σ ``ltv_adjusted(quote, ltv)`` over (quote, ltv) pairs, and the liability
    value (``accountLiquidity`` answers this pair)."""
    return sum(ltv_adjusted(value, ltv) for value, ltv in collateral), liability_value


def in_violation(collateral_value: int, liability_value: int, owed_assets: int) -> bool:
    """Liquidation.calculateMaxLiquidation: no violation while ``collateralAdjustedValue > liabilityValue``, so equal
    values are a violation; an account without debt is never liquidated (calculateLiquidation returns first).
    Both values 0 with debt owed: the discount divides by the liability value and reverts, so nothing is liquidated
    (see ``liquidation_blocked``)."""
    if owed_assets == 0:
        return False
    if liability_value == 0:
        return False
    return collateral_value <= liability_value


def liquidation_blocked(collateral_value: int, liability_value: int, owed_assets: int) -> str | None:
    """Why an account with debt cannot be liquidated whatever its values, from the arithmetic alone: a liability
    valued 0 (the debt quotes to nothing in the unit of account) divides by zero in calculateMaxLiquidation."""
    if owed_assets > 0 and liability_value == 0 and collateral_value == 0:
        return "the debt is worth 0 in the unit of account: Liquidation.sol divides by it and reverts"
    return None


def borrow_healthy(collateral_value: int, liability_value: int, owed_assets: int) -> bool:
    """LiquidityUtils.checkLiquidity (the account status check, borrow LTVs): passes without debt, or while the
    collateral value is strictly above the liability value."""
    return owed_assets == 0 or collateral_value > liability_value


def health_raw(collateral_value: int, liability_value: int) -> int:
    """The stored health figure: ``collateralValue * 1e18 / (liabilityValue + 1)``, floored. EVK has no health
    factor; liquidation needs ``collateralValue <= liabilityValue``, i.e. ``collateralValue < liabilityValue + 1``,
    and for integers ``floor(c * 1e18 / d) < 1e18`` exactly when ``c < d``: below 1e18 exactly when
    Liquidation.sol finds a violation. (``c * 1e18 / l`` would call an account with equal values healthy.)"""
    return collateral_value * WAD // (liability_value + 1)


def ratio_raw(collateral_value: int, liability_value: int) -> int | None:
    """``collateralValue * 1e18 / liabilityValue`` floored (Liquidation.sol's ``discountFactor`` before its floor is
    applied); None without a liability value."""
    if liability_value == 0:
        return None
    return collateral_value * WAD // liability_value


def discount_factor(collateral_value: int, liability_value: int, max_liquidation_discount: int) -> int:
    """Liquidation.calculateMaxLiquidation: ``collateral * 1e18 / liability``, at least
    ``1e18 - 1e18 * maxLiquidationDiscount / 1e4`` (1e18 - discount)."""
    factor = collateral_value * WAD // liability_value
    floor = WAD - WAD * max_liquidation_discount // CONFIG_SCALE
    return max(factor, floor)


def max_liquidation(collateral_value: int, liability_value: int, liability_assets: int, seized_value: int,
                    seized_balance: int, max_liquidation_discount: int) -> tuple[int, int]:
    """Liquidation.calculateMaxLiquidation (and ``checkLiquidation``'s answer): (maxRepay in debt assets, maxYield in
    the collateral's balance units) for seizing one collateral whose whole balance ``seized_balance`` quotes to
    ``seized_value``. (0, 0) without a violation; (0, balance) when the collateral is worth 0."""
    if collateral_value > liability_value:
        return 0, 0
    factor = discount_factor(collateral_value, liability_value, max_liquidation_discount)
    if seized_value == 0:
        return 0, seized_balance
    repay_value = liability_value
    yield_value = repay_value * WAD // factor
    if seized_value < yield_value:
        repay_value = seized_value * factor // WAD
        yield_value = seized_value
    return repay_value * liability_assets // liability_value, yield_value * seized_balance // seized_value


def in_cool_off(now: int, last_status_check: int, cool_off: int) -> bool:
    """Liquidation.isInLiquidationCoolOff: ``block.timestamp < lastAccountStatusCheckTimestamp + coolOffTime``."""
    return now < last_status_check + cool_off
