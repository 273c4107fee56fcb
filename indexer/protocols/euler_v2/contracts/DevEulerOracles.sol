// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

interface IDevPriceOracle {
    function getQuote(uint256 inAmount, address base, address quote) external view returns (uint256);
    function getQuotes(uint256 inAmount, address base, address quote) external view returns (uint256, uint256);
}

interface IDevERC4626 {
    function asset() external view returns (address);
    function convertToAssets(uint256 shares) external view returns (uint256);
}

interface IDevAggregator {
    function decimals() external view returns (uint8);
    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80);
}

interface IDevPythReader {
    struct Price {
        int64 price;
        uint64 conf;
        int32 expo;
        uint256 publishTime;
    }

    function getPriceUnsafe(bytes32 id) external view returns (Price memory);
}

/// @notice The errors of euler-xyz/euler-price-oracle (src/lib/Errors.sol) the devnet oracles raise.
library DevOracleErrors {
    error PriceOracle_InvalidAnswer();
    error PriceOracle_InvalidConfiguration();
    error PriceOracle_NotSupported(address base, address quote);
    error PriceOracle_Overflow();
    error PriceOracle_TooStale(uint256 staleness, uint256 maxStaleness);
    error Governance_CallerNotGovernor();
}

/// @notice Decimal scaling as euler-price-oracle's src/lib/ScaleUtils.sol does it: a unit price with `feedScale`
///         decimals of base and quote converts `inAmount` of base into quote units as
///         inAmount * priceScale * price / feedScale (or, inverted, inAmount * feedScale / (priceScale * price)),
///         rounded down. The real library multiplies into 512 bits (fullMulDiv); here the product must fit 256 bits,
///         which every devnet amount does.
library DevScale {
    function direction(address givenBase, address base, address givenQuote, address quote)
        internal
        pure
        returns (bool inverse)
    {
        if (givenBase == base && givenQuote == quote) return false;
        if (givenBase == quote && givenQuote == base) return true;
        revert DevOracleErrors.PriceOracle_NotSupported(givenBase, givenQuote);
    }

    function outAmount(uint256 inAmount, uint256 price, uint256 priceScale, uint256 feedScale, bool inverse)
        internal
        pure
        returns (uint256)
    {
        if (inverse) return inAmount * feedScale / (priceScale * price);
        return inAmount * priceScale * price / feedScale;
    }

    /// @dev BaseAdapter._getDecimals: an asset without a `decimals()` (an EOA, ISO 4217 codes such as USD =
    ///      address(840)) counts as 18 decimals.
    function decimalsOf(address asset) internal view returns (uint8) {
        (bool ok, bytes memory data) = asset.staticcall(abi.encodeWithSignature("decimals()"));
        return ok && data.length == 32 ? abi.decode(data, (uint8)) : 18;
    }
}

/// @title DevEulerRouter
/// @notice A devnet stand-in for euler-price-oracle's EulerRouter (src/EulerRouter.sol): one oracle per unordered
///         pair (`govSetConfig`, `getConfiguredOracle`), ERC-4626 vaults resolved to their asset through
///         `convertToAssets` (`govSetResolvedVault`, `resolvedVaults`), and `resolveOracle`'s order: base == quote
///         returns the amount; a configured pair wins; else a resolved vault converts and recurses; else the fallback
///         oracle or `PriceOracle_NotSupported`.
contract DevEulerRouter is IDevPriceOracle {
    string public constant name = "EulerRouter";
    address public governor;
    address public fallbackOracle;
    mapping(address => address) public resolvedVaults;
    mapping(address => mapping(address => address)) internal oracles;

    event ConfigSet(address indexed asset0, address indexed asset1, address indexed oracle);
    event FallbackOracleSet(address indexed fallbackOracle);
    event ResolvedVaultSet(address indexed vault, address indexed asset);

    constructor(address governor_) {
        if (governor_ == address(0)) revert DevOracleErrors.PriceOracle_InvalidConfiguration();
        governor = governor_;
    }

    modifier onlyGovernor() {
        if (msg.sender != governor) revert DevOracleErrors.Governance_CallerNotGovernor();
        _;
    }

    function govSetConfig(address base, address quote, address oracle) external onlyGovernor {
        if (base == quote) revert DevOracleErrors.PriceOracle_InvalidConfiguration();
        (address a, address b) = base < quote ? (base, quote) : (quote, base);
        oracles[a][b] = oracle;
        emit ConfigSet(a, b, oracle);
    }

    function govSetResolvedVault(address vault, bool set) external onlyGovernor {
        address asset = set ? IDevERC4626(vault).asset() : address(0);
        resolvedVaults[vault] = asset;
        emit ResolvedVaultSet(vault, asset);
    }

    function govSetFallbackOracle(address oracle) external onlyGovernor {
        fallbackOracle = oracle;
        emit FallbackOracleSet(oracle);
    }

    function getConfiguredOracle(address base, address quote) public view returns (address) {
        (address a, address b) = base < quote ? (base, quote) : (quote, base);
        return oracles[a][b];
    }

    function getQuote(uint256 inAmount, address base, address quote) external view returns (uint256) {
        address oracle;
        (inAmount, base, quote, oracle) = resolveOracle(inAmount, base, quote);
        if (base == quote) return inAmount;
        return IDevPriceOracle(oracle).getQuote(inAmount, base, quote);
    }

    function getQuotes(uint256 inAmount, address base, address quote) external view returns (uint256, uint256) {
        address oracle;
        (inAmount, base, quote, oracle) = resolveOracle(inAmount, base, quote);
        if (base == quote) return (inAmount, inAmount);
        return IDevPriceOracle(oracle).getQuotes(inAmount, base, quote);
    }

    function resolveOracle(uint256 inAmount, address base, address quote)
        public
        view
        returns (uint256, address, address, address)
    {
        if (base == quote) return (inAmount, base, quote, address(0));
        address oracle = getConfiguredOracle(base, quote);
        if (oracle != address(0)) return (inAmount, base, quote, oracle);
        address asset = resolvedVaults[base];
        if (asset != address(0)) {
            return resolveOracle(IDevERC4626(base).convertToAssets(inAmount), asset, quote);
        }
        oracle = fallbackOracle;
        if (oracle == address(0)) revert DevOracleErrors.PriceOracle_NotSupported(base, quote);
        return (inAmount, base, quote, oracle);
    }
}

/// @title DevChainlinkOracle
/// @notice euler-price-oracle's ChainlinkOracle (src/adapter/chainlink/ChainlinkOracle.sol) over a Chainlink-style
///         feed: the answer must be > 0 (`PriceOracle_InvalidAnswer`) and at most `maxStaleness` old
///         (`PriceOracle_TooStale`); scale = calcScale(baseDecimals, quoteDecimals, feedDecimals), i.e.
///         priceScale = 10^quoteDecimals and feedScale = 10^(feedDecimals + baseDecimals). Mid price only: getQuotes
///         answers the same amount twice (BaseAdapter).
contract DevChainlinkOracle is IDevPriceOracle {
    string public constant name = "ChainlinkOracle";
    address public immutable base;
    address public immutable quote;
    address public immutable feed;
    uint256 public immutable maxStaleness;
    uint256 internal immutable priceScale;
    uint256 internal immutable feedScale;

    constructor(address base_, address quote_, address feed_, uint256 maxStaleness_) {
        if (maxStaleness_ < 1 minutes || maxStaleness_ > 72 hours) {
            revert DevOracleErrors.PriceOracle_InvalidConfiguration();
        }
        base = base_;
        quote = quote_;
        feed = feed_;
        maxStaleness = maxStaleness_;
        priceScale = 10 ** DevScale.decimalsOf(quote_);
        feedScale = 10 ** (uint256(IDevAggregator(feed_).decimals()) + DevScale.decimalsOf(base_));
    }

    function getQuote(uint256 inAmount, address base_, address quote_) public view returns (uint256) {
        bool inverse = DevScale.direction(base_, base, quote_, quote);
        (, int256 answer,, uint256 updatedAt,) = IDevAggregator(feed).latestRoundData();
        if (answer <= 0) revert DevOracleErrors.PriceOracle_InvalidAnswer();
        uint256 staleness = block.timestamp - updatedAt;
        if (staleness > maxStaleness) revert DevOracleErrors.PriceOracle_TooStale(staleness, maxStaleness);
        return DevScale.outAmount(inAmount, uint256(answer), priceScale, feedScale, inverse);
    }

    function getQuotes(uint256 inAmount, address base_, address quote_) external view returns (uint256, uint256) {
        uint256 out = getQuote(inAmount, base_, quote_);
        return (out, out);
    }
}

/// @title DevPythOracle
/// @notice euler-price-oracle's PythOracle (src/adapter/pyth/PythOracle.sol) over a Pyth contract: reads
///         `getPriceUnsafe(feedId)` and refuses (`PriceOracle_InvalidAnswer`) a price published more than
///         `maxStaleness` ago or more than a minute ahead, a price <= 0, a confidence wider than `maxConfWidth`
///         basis points of the price, or an exponent outside [-20, 12]. Scale: feedExponent = baseDecimals - expo;
///         feedExponent > 0 gives priceScale 10^quoteDecimals and feedScale 10^feedExponent, otherwise priceScale
///         10^(quoteDecimals - feedExponent) and feedScale 1.
contract DevPythOracle is IDevPriceOracle {
    string public constant name = "PythOracle";
    address public immutable pyth;
    address public immutable base;
    address public immutable quote;
    bytes32 public immutable feedId;
    uint256 public immutable maxStaleness;
    uint256 public immutable maxConfWidth;
    uint8 internal immutable baseDecimals;
    uint8 internal immutable quoteDecimals;

    constructor(address pyth_, address base_, address quote_, bytes32 feedId_, uint256 maxStaleness_,
                uint256 maxConfWidth_) {
        if (maxStaleness_ > 15 minutes || maxConfWidth_ < 10 || maxConfWidth_ > 500) {
            revert DevOracleErrors.PriceOracle_InvalidConfiguration();
        }
        pyth = pyth_;
        base = base_;
        quote = quote_;
        feedId = feedId_;
        maxStaleness = maxStaleness_;
        maxConfWidth = maxConfWidth_;
        baseDecimals = DevScale.decimalsOf(base_);
        quoteDecimals = DevScale.decimalsOf(quote_);
    }

    function getQuote(uint256 inAmount, address base_, address quote_) public view returns (uint256) {
        bool inverse = DevScale.direction(base_, base, quote_, quote);
        IDevPythReader.Price memory p = IDevPythReader(pyth).getPriceUnsafe(feedId);
        if (p.publishTime < block.timestamp) {
            if (block.timestamp - p.publishTime > maxStaleness) revert DevOracleErrors.PriceOracle_InvalidAnswer();
        } else if (p.publishTime - block.timestamp > 1 minutes) {
            revert DevOracleErrors.PriceOracle_InvalidAnswer();
        }
        if (p.price <= 0 || p.conf > uint64(p.price) * maxConfWidth / 10_000) {
            revert DevOracleErrors.PriceOracle_InvalidAnswer();
        }
        if (p.expo < -20 || p.expo > 12) revert DevOracleErrors.PriceOracle_InvalidAnswer();
        int256 feedExponent = int256(uint256(baseDecimals)) - int256(p.expo);
        uint256 priceScale;
        uint256 feedScale;
        if (feedExponent > 0) {
            priceScale = 10 ** uint256(quoteDecimals);
            feedScale = 10 ** uint256(feedExponent);
        } else {
            priceScale = 10 ** (uint256(quoteDecimals) + uint256(-feedExponent));
            feedScale = 1;
        }
        return DevScale.outAmount(inAmount, uint256(uint64(p.price)), priceScale, feedScale, inverse);
    }

    function getQuotes(uint256 inAmount, address base_, address quote_) external view returns (uint256, uint256) {
        uint256 out = getQuote(inAmount, base_, quote_);
        return (out, out);
    }
}
