// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// Devnet stand-ins for GMX v2 (gmx-synthetics): a DataStore answering the real getters by bytes32 key, and a
/// Reader with the real v2.2 ABI of getMarkets, getAccountPositionInfoList and isPositionLiquidatable. Written for
/// this project from the published rules (contracts/position/PositionUtils.sol, contracts/utils/Precision.sol,
/// contracts/oracle/ChainlinkPriceFeedUtils.sol, contracts/data/Keys.sol); no GMX code is copied. Fees are what the
/// devnet sets per position (pending borrowing fee in USD, funding fee in collateral tokens) and per market (the
/// position fee factor, the close's price impact); uiFee, referral and pro discounts are zero.

struct PriceProps { uint256 min; uint256 max; }
struct MarketPrices { PriceProps indexTokenPrice; PriceProps longTokenPrice; PriceProps shortTokenPrice; }
struct MarketProps { address marketToken; address indexToken; address longToken; address shortToken; }
struct PositionAddresses { address account; address market; address collateralToken; }
struct PositionNumbers {
    uint256 sizeInUsd; uint256 sizeInTokens; uint256 collateralAmount; int256 pendingImpactAmount;
    uint256 borrowingFactor; uint256 fundingFeeAmountPerSize; uint256 longTokenClaimableFundingAmountPerSize;
    uint256 shortTokenClaimableFundingAmountPerSize; uint256 increasedAtTime; uint256 decreasedAtTime;
}
struct PositionFlags { bool isLong; }
struct PositionProps { PositionAddresses addresses; PositionNumbers numbers; PositionFlags flags; }
struct ReferralFees {
    bytes32 referralCode; address affiliate; address trader; uint256 totalRebateFactor; uint256 affiliateRewardFactor;
    uint256 adjustedAffiliateRewardFactor; uint256 traderDiscountFactor; uint256 totalRebateAmount;
    uint256 traderDiscountAmount; uint256 affiliateRewardAmount;
}
struct ProFees { uint256 traderTier; uint256 traderDiscountFactor; uint256 traderDiscountAmount; }
struct FundingFees {
    uint256 fundingFeeAmount; uint256 claimableLongTokenAmount; uint256 claimableShortTokenAmount;
    uint256 latestFundingFeeAmountPerSize; uint256 latestLongTokenClaimableFundingAmountPerSize;
    uint256 latestShortTokenClaimableFundingAmountPerSize;
}
struct BorrowingFees {
    uint256 borrowingFeeUsd; uint256 borrowingFeeAmount; uint256 borrowingFeeReceiverFactor;
    uint256 borrowingFeeAmountForFeeReceiver;
}
struct UiFees { address uiFeeReceiver; uint256 uiFeeReceiverFactor; uint256 uiFeeAmount; }
struct LiquidationFees {
    uint256 liquidationFeeUsd; uint256 liquidationFeeAmount; uint256 liquidationFeeReceiverFactor;
    uint256 liquidationFeeAmountForFeeReceiver;
}
struct PositionFees {
    ReferralFees referral; ProFees pro; FundingFees funding; BorrowingFees borrowing; UiFees ui;
    LiquidationFees liquidation; PriceProps collateralTokenPrice; uint256 positionFeeFactor;
    uint256 protocolFeeAmount; uint256 positionFeeReceiverFactor; uint256 feeReceiverAmount; uint256 feeAmountForPool;
    uint256 positionFeeAmountForPool; uint256 positionFeeAmount; uint256 totalCostAmountExcludingFunding;
    uint256 totalCostAmount; uint256 totalDiscountAmount;
}
struct ExecutionPriceResult {
    int256 priceImpactUsd; uint256 executionPrice; bool balanceWasImproved; int256 proportionalPendingImpactUsd;
    int256 totalImpactUsd; uint256 priceImpactDiffUsd;
}
struct PositionInfo {
    bytes32 positionKey; PositionProps position; PositionFees fees; ExecutionPriceResult executionPriceResult;
    int256 basePnlUsd; int256 uncappedBasePnlUsd; int256 pnlAfterPriceImpactUsd;
}
struct IsPositionLiquidatableInfo { int256 remainingCollateralUsd; int256 minCollateralUsd; int256 minCollateralUsdForLeverage; }

contract DevGmxDataStore {
    uint256 internal constant FLOAT_PRECISION = 1e30;
    mapping(bytes32 => uint256) public uintValues;
    mapping(bytes32 => int256) public intValues;
    mapping(bytes32 => address) public addressValues;
    mapping(bytes32 => bool) public boolValues;
    mapping(bytes32 => bytes32) public bytes32Values;

    MarketProps[] internal _markets;
    mapping(bytes32 => PositionProps) internal _positions;
    mapping(bytes32 => uint256) public pendingBorrowingFeeUsd; // by position key (devnet-set)
    mapping(bytes32 => uint256) public pendingFundingFeeAmount; // by position key, collateral tokens (devnet-set)
    mapping(address => bytes32[]) internal _accountKeys;

    function getUint(bytes32 key) external view returns (uint256) { return uintValues[key]; }
    function getInt(bytes32 key) external view returns (int256) { return intValues[key]; }
    function getAddress(bytes32 key) external view returns (address) { return addressValues[key]; }
    function getBool(bytes32 key) external view returns (bool) { return boolValues[key]; }
    function getBytes32(bytes32 key) external view returns (bytes32) { return bytes32Values[key]; }

    function setUint(bytes32 key, uint256 value) external { uintValues[key] = value; }
    function setInt(bytes32 key, int256 value) external { intValues[key] = value; }
    function setAddress(bytes32 key, address value) external { addressValues[key] = value; }
    function setBool(bytes32 key, bool value) external { boolValues[key] = value; }
    function setBytes32(bytes32 key, bytes32 value) external { bytes32Values[key] = value; }

    function addMarket(address marketToken, address indexToken, address longToken, address shortToken) external {
        _markets.push(MarketProps(marketToken, indexToken, longToken, shortToken));
    }

    function marketCount() external view returns (uint256) { return _markets.length; }

    function marketAt(uint256 i) external view returns (MarketProps memory) { return _markets[i]; }

    function getMarket(address marketToken) public view returns (MarketProps memory) {
        for (uint256 i; i < _markets.length; i++) {
            if (_markets[i].marketToken == marketToken) return _markets[i];
        }
        revert("EmptyMarket");
    }

    /// Opens (or replaces) a position at `entryPrice` (GMX units: USD * 1e30 / 10**decimals):
    /// sizeInTokens = sizeInUsd / entryPrice, rounded up for a long and down for a short.
    function openPosition(address account, address market, address collateralToken, bool isLong, uint256 sizeInUsd,
                          uint256 entryPrice, uint256 collateralAmount) external returns (bytes32 key) {
        key = keccak256(abi.encode(account, market, collateralToken, isLong));
        if (_positions[key].addresses.account == address(0)) _accountKeys[account].push(key);
        uint256 tokens = isLong ? (sizeInUsd + entryPrice - 1) / entryPrice : sizeInUsd / entryPrice;
        PositionProps storage p = _positions[key];
        p.addresses = PositionAddresses(account, market, collateralToken);
        p.numbers.sizeInUsd = sizeInUsd;
        p.numbers.sizeInTokens = tokens;
        p.numbers.collateralAmount = collateralAmount;
        p.numbers.increasedAtTime = block.timestamp;
        p.flags.isLong = isLong;
    }

    function setPendingFees(bytes32 key, uint256 borrowingFeeUsd, uint256 fundingFeeAmount) external {
        pendingBorrowingFeeUsd[key] = borrowingFeeUsd;
        pendingFundingFeeAmount[key] = fundingFeeAmount;
    }

    function getPosition(bytes32 key) external view returns (PositionProps memory) { return _positions[key]; }

    function accountPositionKeys(address account, uint256 start, uint256 end) external view returns (bytes32[] memory keys) {
        bytes32[] storage all = _accountKeys[account];
        if (end > all.length) end = all.length;
        if (start >= end) return new bytes32[](0);
        keys = new bytes32[](end - start);
        for (uint256 i = start; i < end; i++) keys[i - start] = all[i];
    }
}

contract DevGmxReader {
    uint256 internal constant FLOAT_PRECISION = 1e30;
    bytes32 internal constant MIN_COLLATERAL_USD = keccak256(abi.encode("MIN_COLLATERAL_USD"));
    bytes32 internal constant MIN_COLLATERAL_FACTOR = keccak256(abi.encode("MIN_COLLATERAL_FACTOR"));
    bytes32 internal constant MIN_COLLATERAL_FACTOR_FOR_LIQUIDATION =
        keccak256(abi.encode("MIN_COLLATERAL_FACTOR_FOR_LIQUIDATION"));
    bytes32 internal constant MAX_POSITION_IMPACT_FACTOR_FOR_LIQUIDATIONS =
        keccak256(abi.encode("MAX_POSITION_IMPACT_FACTOR_FOR_LIQUIDATIONS"));
    // devnet-only keys: the market's position fee factor and the price impact of a full close (USD, signed)
    bytes32 internal constant DEV_POSITION_FEE_FACTOR = keccak256(abi.encode("DEV_POSITION_FEE_FACTOR"));
    bytes32 internal constant DEV_CLOSE_PRICE_IMPACT_USD = keccak256(abi.encode("DEV_CLOSE_PRICE_IMPACT_USD"));

    function getMarkets(address dataStore, uint256 start, uint256 end) external view returns (MarketProps[] memory out) {
        DevGmxDataStore ds = DevGmxDataStore(dataStore);
        uint256 n = ds.marketCount();
        if (end > n) end = n;
        if (start >= end) return new MarketProps[](0);
        out = new MarketProps[](end - start);
        for (uint256 i = start; i < end; i++) out[i - start] = ds.marketAt(i);
    }

    function getAccountPositionInfoList(address dataStore, address, address account, address[] memory markets,
                                        MarketPrices[] memory marketPrices, address uiFeeReceiver, uint256 start,
                                        uint256 end) external view returns (PositionInfo[] memory infos) {
        DevGmxDataStore ds = DevGmxDataStore(dataStore);
        bytes32[] memory keys = ds.accountPositionKeys(account, start, end);
        infos = new PositionInfo[](keys.length);
        for (uint256 i; i < keys.length; i++) {
            PositionProps memory p = ds.getPosition(keys[i]);
            MarketPrices memory prices = _pricesFor(markets, marketPrices, p.addresses.market);
            infos[i] = _info(ds, keys[i], p, prices, uiFeeReceiver);
        }
    }

    function isPositionLiquidatable(address dataStore, address, bytes32 positionKey, MarketProps memory market,
                                    MarketPrices memory prices, bool shouldValidateMinCollateralUsd,
                                    bool forLiquidation)
        external view returns (bool, string memory, IsPositionLiquidatableInfo memory info)
    {
        DevGmxDataStore ds = DevGmxDataStore(dataStore);
        PositionProps memory p = ds.getPosition(positionKey);
        require(p.addresses.account != address(0), "EmptyPosition");
        info.remainingCollateralUsd = _remaining(ds, positionKey, p, market, prices);
        bytes32 factorKey = forLiquidation ? MIN_COLLATERAL_FACTOR_FOR_LIQUIDATION : MIN_COLLATERAL_FACTOR;
        uint256 factor = ds.getUint(keccak256(abi.encode(factorKey, market.marketToken)));
        info.minCollateralUsdForLeverage = int256(p.numbers.sizeInUsd * factor / FLOAT_PRECISION);
        if (shouldValidateMinCollateralUsd) {
            info.minCollateralUsd = int256(ds.getUint(MIN_COLLATERAL_USD));
            if (info.remainingCollateralUsd < info.minCollateralUsd) return (true, "min collateral", info);
        }
        if (info.remainingCollateralUsd <= 0) return (true, "< 0", info);
        if (info.remainingCollateralUsd < info.minCollateralUsdForLeverage) {
            return (true, "min collateral for leverage", info);
        }
        return (false, "", info);
    }

    /// collateral × min price + PnL + capped close impact - totalCostAmount × min price (PositionUtils.sol)
    function _remaining(DevGmxDataStore ds, bytes32 key, PositionProps memory p, MarketProps memory market,
                        MarketPrices memory prices) internal view returns (int256) {
        PriceProps memory collateralPrice = _collateralPrice(p.addresses.collateralToken, market, prices);
        int256 impact = _closeImpact(ds, p.addresses.market);
        if (impact >= 0) {
            impact = 0;
        } else {
            uint256 maxFactor = ds.getUint(keccak256(abi.encode(MAX_POSITION_IMPACT_FACTOR_FOR_LIQUIDATIONS, market.marketToken)));
            int256 floorImpact = -int256(p.numbers.sizeInUsd * maxFactor / FLOAT_PRECISION);
            if (impact < floorImpact) impact = floorImpact;
        }
        PositionFees memory fees = _fees(ds, key, p, collateralPrice, address(0));
        return int256(p.numbers.collateralAmount * collateralPrice.min) + _pnl(p, prices.indexTokenPrice) + impact
            - int256(fees.totalCostAmount * collateralPrice.min);
    }

    function _pricesFor(address[] memory markets, MarketPrices[] memory marketPrices, address market)
        internal pure returns (MarketPrices memory)
    {
        for (uint256 i; i < markets.length; i++) {
            if (markets[i] == market) return marketPrices[i];
        }
        revert("EmptyMarketPrice");
    }

    function _collateralPrice(address token, MarketProps memory market, MarketPrices memory prices)
        internal pure returns (PriceProps memory)
    {
        if (token == market.longToken) return prices.longTokenPrice;
        if (token == market.shortToken) return prices.shortTokenPrice;
        revert("InvalidCollateralToken");
    }

    /// long: sizeInTokens * price(min) - sizeInUsd; short: sizeInUsd - sizeInTokens * price(max)
    function _pnl(PositionProps memory p, PriceProps memory indexPrice) internal pure returns (int256) {
        uint256 price = p.flags.isLong ? indexPrice.min : indexPrice.max;
        int256 value = int256(p.numbers.sizeInTokens * price);
        return p.flags.isLong ? value - int256(p.numbers.sizeInUsd) : int256(p.numbers.sizeInUsd) - value;
    }

    function _closeImpact(DevGmxDataStore ds, address market) internal view returns (int256) {
        return ds.getInt(keccak256(abi.encode(DEV_CLOSE_PRICE_IMPACT_USD, market)));
    }

    function _fees(DevGmxDataStore ds, bytes32 key, PositionProps memory p, PriceProps memory collateralPrice,
                   address uiFeeReceiver) internal view returns (PositionFees memory fees) {
        fees.collateralTokenPrice = collateralPrice;
        fees.positionFeeFactor = ds.getUint(keccak256(abi.encode(DEV_POSITION_FEE_FACTOR, p.addresses.market)));
        fees.positionFeeAmount = (p.numbers.sizeInUsd * fees.positionFeeFactor / FLOAT_PRECISION) / collateralPrice.min;
        fees.borrowing.borrowingFeeUsd = ds.pendingBorrowingFeeUsd(key);
        fees.borrowing.borrowingFeeAmount = fees.borrowing.borrowingFeeUsd / collateralPrice.min;
        fees.funding.fundingFeeAmount = ds.pendingFundingFeeAmount(key);
        fees.ui.uiFeeReceiver = uiFeeReceiver;
        fees.totalCostAmountExcludingFunding = fees.positionFeeAmount + fees.borrowing.borrowingFeeAmount;
        fees.totalCostAmount = fees.totalCostAmountExcludingFunding + fees.funding.fundingFeeAmount;
    }

    function _info(DevGmxDataStore ds, bytes32 key, PositionProps memory p, MarketPrices memory prices,
                   address uiFeeReceiver) internal view returns (PositionInfo memory info) {
        MarketProps memory market = ds.getMarket(p.addresses.market);
        PriceProps memory collateralPrice = _collateralPrice(p.addresses.collateralToken, market, prices);
        info.positionKey = key;
        info.position = p;
        info.fees = _fees(ds, key, p, collateralPrice, uiFeeReceiver);
        info.executionPriceResult.priceImpactUsd = _closeImpact(ds, p.addresses.market);
        info.executionPriceResult.totalImpactUsd = info.executionPriceResult.priceImpactUsd;
        info.executionPriceResult.executionPrice = p.flags.isLong ? prices.indexTokenPrice.min : prices.indexTokenPrice.max;
        info.basePnlUsd = _pnl(p, prices.indexTokenPrice);
        info.uncappedBasePnlUsd = info.basePnlUsd;
        info.pnlAfterPriceImpactUsd = info.basePnlUsd + info.executionPriceResult.priceImpactUsd;
    }
}
