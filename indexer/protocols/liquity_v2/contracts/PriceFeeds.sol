// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./LiquityV2DevBase.sol";

// Liquity v2's branch price feeds for the devnet, after liquity/bold contracts/src/PriceFeeds/
// (MainnetPriceFeedBase.sol, WETHPriceFeed.sol, CompositePriceFeed.sol, WSTETHPriceFeed.sol), written for this
// devnet with the same public state (`priceSource`, `lastGoodPrice`, the `Oracle` records, `rateProviderAddress`)
// and the same decisions in `fetchPrice()`:
//
// - a Chainlink answer is good when the call succeeds, `block.timestamp - updatedAt < stalenessThreshold` (which
//   reverts, checked arithmetic, for a round dated after the block) and the answer is positive; it is scaled to 18
//   decimals with the decimals stored at construction;
// - WETH: the ETH-USD answer while `priceSource` is primary; a bad one shuts the branch down
//   (BorrowerOperations.shutdownFromOracleFailure), switches to `lastGoodPrice` for good and returns it;
// - wstETH: primary = STETH-USD * stEthPerToken / 1e18; the exchange rate (0 or reverting) or ETH-USD failing →
//   shutdown and `lastGoodPrice`; STETH-USD alone failing → shutdown and ETHUSDxCanonical, i.e.
//   min(ETH-USD * stEthPerToken / 1e18, lastGoodPrice), stored as the new lastGoodPrice; in ETHUSDxCanonical a bad
//   ETH-USD or rate moves to `lastGoodPrice` for good.
//
// Every successful primary read stores its price as `lastGoodPrice`. Left out: `fetchRedemptionPrice`'s
// redemption variant (it returns the same as fetchPrice here; the devnet has no redemptions), the RETH feed, the
// gas check around external calls, and the constructor's 8-decimal assertion (the devnet's tests swap an 18-decimal
// aggregator in to set prices to the unit).
enum PriceSource {
    primary,
    ETHUSDxCanonical,
    lastGoodPrice
}

abstract contract MainnetPriceFeedBase {
    struct Oracle {
        IDevAggregator aggregator;
        uint256 stalenessThreshold;
        uint8 decimals;
    }

    PriceSource public priceSource;
    uint256 public lastGoodPrice;
    Oracle public ethUsdOracle;
    IDevBorrowerOperations internal borrowerOperations;

    event ShutDownFromOracleFailure(address _failedOracleAddr);

    constructor(address ethUsdAggregator, uint256 ethUsdStaleness, address borrowerOperations_) {
        ethUsdOracle = Oracle(IDevAggregator(ethUsdAggregator), ethUsdStaleness, IDevAggregator(ethUsdAggregator).decimals());
        borrowerOperations = IDevBorrowerOperations(borrowerOperations_);
    }

    /// (18-decimal answer, down): down when the read fails, the round is stale, or the answer is not positive.
    function _oracleAnswer(Oracle memory oracle) internal view returns (uint256, bool) {
        try oracle.aggregator.latestRoundData() returns (uint80, int256 answer, uint256, uint256 updatedAt, uint80) {
            bool good = block.timestamp - updatedAt < oracle.stalenessThreshold && answer > 0;
            if (!good) return (0, true);
            return (uint256(answer) * 10 ** (18 - oracle.decimals), false);
        } catch {
            return (0, true);
        }
    }

    function _shutDownAndSwitchToLastGoodPrice(address failed) internal returns (uint256) {
        borrowerOperations.shutdownFromOracleFailure();
        priceSource = PriceSource.lastGoodPrice;
        emit ShutDownFromOracleFailure(failed);
        return lastGoodPrice;
    }
}

contract WETHPriceFeed is MainnetPriceFeedBase {
    constructor(address ethUsdAggregator, uint256 ethUsdStaleness, address borrowerOperations_)
        MainnetPriceFeedBase(ethUsdAggregator, ethUsdStaleness, borrowerOperations_)
    {
        _fetchPricePrimary();
        require(priceSource == PriceSource.primary, "WETHPriceFeed: oracle down at deployment");
    }

    function fetchPrice() public returns (uint256, bool) {
        if (priceSource == PriceSource.primary) return _fetchPricePrimary();
        assert(priceSource == PriceSource.lastGoodPrice);
        return (lastGoodPrice, false);
    }

    function fetchRedemptionPrice() external returns (uint256, bool) {
        return fetchPrice();
    }

    function _fetchPricePrimary() internal returns (uint256, bool) {
        (uint256 ethUsd, bool down) = _oracleAnswer(ethUsdOracle);
        if (down) return (_shutDownAndSwitchToLastGoodPrice(address(ethUsdOracle.aggregator)), true);
        lastGoodPrice = ethUsd;
        return (ethUsd, false);
    }
}

abstract contract CompositePriceFeed is MainnetPriceFeedBase {
    address public rateProviderAddress;

    constructor(address ethUsdAggregator, address rateProvider, uint256 ethUsdStaleness, address borrowerOperations_)
        MainnetPriceFeedBase(ethUsdAggregator, ethUsdStaleness, borrowerOperations_)
    {
        rateProviderAddress = rateProvider;
    }

    function fetchPrice() public returns (uint256, bool) {
        if (priceSource == PriceSource.primary) return _fetchPricePrimary();
        return _fetchPriceDuringShutdown();
    }

    function fetchRedemptionPrice() external returns (uint256, bool) {
        return fetchPrice();
    }

    function _fetchPriceDuringShutdown() internal returns (uint256, bool) {
        if (priceSource == PriceSource.ETHUSDxCanonical) {
            (uint256 ethUsd, bool down) = _oracleAnswer(ethUsdOracle);
            if (down) {
                priceSource = PriceSource.lastGoodPrice;
                return (lastGoodPrice, false);
            }
            return (_fetchPriceETHUSDxCanonical(ethUsd), false);
        }
        assert(priceSource == PriceSource.lastGoodPrice);
        return (lastGoodPrice, false);
    }

    function _shutDownAndSwitchToETHUSDxCanonical(address failed, uint256 ethUsd) internal returns (uint256) {
        borrowerOperations.shutdownFromOracleFailure();
        priceSource = PriceSource.ETHUSDxCanonical;
        emit ShutDownFromOracleFailure(failed);
        return _fetchPriceETHUSDxCanonical(ethUsd);
    }

    function _fetchPriceETHUSDxCanonical(uint256 ethUsd) internal returns (uint256) {
        (uint256 rate, bool down) = _canonicalRate();
        if (down) {
            priceSource = PriceSource.lastGoodPrice;
            return lastGoodPrice;
        }
        uint256 price = minOf(ethUsd * rate / 1e18, lastGoodPrice);
        lastGoodPrice = price;
        return price;
    }

    function _fetchPricePrimary() internal virtual returns (uint256, bool);

    function _canonicalRate() internal view virtual returns (uint256, bool);
}

interface IDevStEthRate {
    function stEthPerToken() external view returns (uint256);
}

contract WSTETHPriceFeed is CompositePriceFeed {
    Oracle public stEthUsdOracle;

    constructor(
        address ethUsdAggregator,
        address stEthUsdAggregator,
        address wstEth,
        uint256 ethUsdStaleness,
        uint256 stEthUsdStaleness,
        address borrowerOperations_
    ) CompositePriceFeed(ethUsdAggregator, wstEth, ethUsdStaleness, borrowerOperations_) {
        stEthUsdOracle =
            Oracle(IDevAggregator(stEthUsdAggregator), stEthUsdStaleness, IDevAggregator(stEthUsdAggregator).decimals());
        _fetchPricePrimary();
        require(priceSource == PriceSource.primary, "WSTETHPriceFeed: oracle down at deployment");
    }

    function _fetchPricePrimary() internal override returns (uint256, bool) {
        (uint256 stEthUsd, bool stEthUsdDown) = _oracleAnswer(stEthUsdOracle);
        (uint256 rate, bool rateDown) = _canonicalRate();
        (uint256 ethUsd, bool ethUsdDown) = _oracleAnswer(ethUsdOracle);
        if (rateDown) return (_shutDownAndSwitchToLastGoodPrice(rateProviderAddress), true);
        if (ethUsdDown) return (_shutDownAndSwitchToLastGoodPrice(address(ethUsdOracle.aggregator)), true);
        if (stEthUsdDown) return (_shutDownAndSwitchToETHUSDxCanonical(address(stEthUsdOracle.aggregator), ethUsd), true);
        uint256 price = stEthUsd * rate / 1e18;
        lastGoodPrice = price;
        return (price, false);
    }

    function _canonicalRate() internal view override returns (uint256, bool) {
        try IDevStEthRate(rateProviderAddress).stEthPerToken() returns (uint256 rate) {
            if (rate == 0) return (0, true);
            return (rate, false);
        } catch {
            return (0, true);
        }
    }
}

/// The wstETH exchange rate for the devnet (wstETH's `stEthPerToken()`), settable by anyone.
contract DevStEthRate {
    uint256 public stEthPerToken;

    constructor(uint256 rate) {
        stEthPerToken = rate;
    }

    function setStEthPerToken(uint256 rate) external {
        stEthPerToken = rate;
    }
}

/// The registry of branches (liquity/bold contracts/src/CollateralRegistry.sol) reduced to its getters:
/// `totalCollaterals`, `getToken(i)`, `getTroveManager(i)`, `boldToken`. No redemptions.
contract CollateralRegistry {
    address public immutable boldToken;
    address[] private tokens;
    address[] private troveManagers;

    constructor(address bold, address[] memory tokens_, address[] memory troveManagers_) {
        require(tokens_.length == troveManagers_.length, "CollateralRegistry: lengths");
        boldToken = bold;
        tokens = tokens_;
        troveManagers = troveManagers_;
    }

    function totalCollaterals() external view returns (uint256) {
        return tokens.length;
    }

    function getToken(uint256 index) external view returns (address) {
        return tokens[index];
    }

    function getTroveManager(uint256 index) external view returns (address) {
        return troveManagers[index];
    }
}
