// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

interface IDevCometERC20 {
    function decimals() external view returns (uint8);
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
    function balanceOf(address account) external view returns (uint256);
}

interface IDevCometPriceFeed {
    function decimals() external view returns (uint8);
    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80);
}

/// @title DevComet
/// @notice A devnet stand-in for a Compound v3 market ("Comet"), written for this repository. It answers the
///         external ABI of compound-finance/comet (CometWithExtendedAssetList + CometMainInterface + CometExt:
///         same function signatures, same return layouts, same events and custom errors) and follows the
///         published contract's arithmetic rule for rule, so that a position's health, accrual, borrow limit
///         and absorption come out to the same integer as on a real Comet. Each rule below names the upstream
///         file it follows (paths in the compound-finance/comet repository).
///
///         Left out on purpose: rewards tracking (the tracking indices and speeds stay 0), governance and
///         pausing (nothing is ever paused), managers and signatures (supply/withdraw act for msg.sender
///         only), transfers of the wrapped base token, buyCollateral and the reserve withdrawals, the
///         extension delegate and the re-entrancy guard (the devnet's tokens have no hooks). The asset list
///         is packed into storage words instead of AssetList.sol's immutables, with the same packing, so
///         getAssetInfo returns the same (truncated) values.
contract DevComet {
    // ------------------------------------------------------------------ types (contracts/CometCore.sol,
    // contracts/CometStorage.sol, contracts/CometConfiguration.sol: the same fields in the same order)

    struct AssetConfig {
        address asset;
        address priceFeed;
        uint8 decimals;
        uint64 borrowCollateralFactor;
        uint64 liquidateCollateralFactor;
        uint64 liquidationFactor;
        uint128 supplyCap;
    }

    /// @dev The eight interest-rate fields of Comet's Configuration, per year (per-second values are derived).
    struct RateConfig {
        uint64 supplyKink;
        uint64 supplyPerYearInterestRateSlopeLow;
        uint64 supplyPerYearInterestRateSlopeHigh;
        uint64 supplyPerYearInterestRateBase;
        uint64 borrowKink;
        uint64 borrowPerYearInterestRateSlopeLow;
        uint64 borrowPerYearInterestRateSlopeHigh;
        uint64 borrowPerYearInterestRateBase;
    }

    struct AssetInfo {
        uint8 offset;
        address asset;
        address priceFeed;
        uint64 scale;
        uint64 borrowCollateralFactor;
        uint64 liquidateCollateralFactor;
        uint64 liquidationFactor;
        uint128 supplyCap;
    }

    struct TotalsBasic {
        uint64 baseSupplyIndex;
        uint64 baseBorrowIndex;
        uint64 trackingSupplyIndex;
        uint64 trackingBorrowIndex;
        uint104 totalSupplyBase;
        uint104 totalBorrowBase;
        uint40 lastAccrualTime;
        uint8 pauseFlags;
    }

    struct TotalsCollateral {
        uint128 totalSupplyAsset;
        uint128 _reserved;
    }

    struct UserBasic {
        int104 principal;
        uint64 baseTrackingIndex;
        uint64 baseTrackingAccrued;
        uint16 assetsIn;
        uint8 _reserved;
    }

    struct UserCollateral {
        uint128 balance;
        uint128 _reserved;
    }

    struct LiquidatorPoints {
        uint32 numAbsorbs;
        uint64 numAbsorbed;
        uint128 approxSpend;
        uint32 _reserved;
    }

    // ------------------------------------------------------------------ errors (contracts/CometMainInterface.sol
    // and contracts/CometMath.sol; only those this contract can raise)

    error BadAsset();
    error BadDecimals();
    error BadPrice();
    error BorrowCFTooLarge();
    error BorrowTooSmall();
    error LiquidateCFTooLarge();
    error NotCollateralized();
    error NotLiquidatable();
    error SupplyCapExceeded();
    error TimestampTooLarge();
    error TooManyAssets();
    error TransferInFailed();
    error TransferOutFailed();
    error InvalidUInt64();
    error InvalidUInt104();
    error InvalidUInt128();
    error InvalidInt104();
    error InvalidInt256();
    error NegativeNumber();

    // ------------------------------------------------------------------ events (contracts/CometMainInterface.sol)

    event Supply(address indexed from, address indexed dst, uint amount);
    event Transfer(address indexed from, address indexed to, uint amount);
    event Withdraw(address indexed src, address indexed to, uint amount);
    event SupplyCollateral(address indexed from, address indexed dst, address indexed asset, uint amount);
    event WithdrawCollateral(address indexed src, address indexed to, address indexed asset, uint amount);
    /// @dev Declared for the ABI's sake: collateral transfers are not implemented, so it is never emitted.
    event TransferCollateral(address indexed from, address indexed to, address indexed asset, uint amount);
    event AbsorbDebt(address indexed absorber, address indexed borrower, uint basePaidOut, uint usdValue);
    event AbsorbCollateral(
        address indexed absorber, address indexed borrower, address indexed asset, uint collateralAbsorbed, uint usdValue
    );

    // ------------------------------------------------------------------ constants (contracts/CometCore.sol)

    uint8 internal constant PRICE_FEED_DECIMALS = 8;
    uint64 internal constant PRICE_SCALE = 1e8;
    uint64 internal constant FACTOR_SCALE = 1e18;
    uint64 internal constant BASE_INDEX_SCALE = 1e15;
    uint64 internal constant BASE_ACCRUAL_SCALE = 1e6;
    uint64 internal constant SECONDS_PER_YEAR = 31_536_000;
    uint8 internal constant MAX_BASE_DECIMALS = 18;
    /// @dev CometWithExtendedAssetList.sol: up to 24 assets (bits 0-15 in assetsIn, 16-23 in _reserved)
    uint8 internal constant MAX_ASSETS = 24;
    /// @dev AssetList.sol keeps four decimals of each factor: stored = factor / 1e14, read back * 1e14
    uint64 internal constant FACTOR_DESCALE = FACTOR_SCALE / 1e4;

    // ------------------------------------------------------------------ configuration (immutable, as in
    // CometWithExtendedAssetList.sol; the uint getters are `uint` in Comet's ABI, "@dev uint64" in its docs)

    address public immutable baseToken;
    address public immutable baseTokenPriceFeed;
    uint public immutable supplyKink;
    uint public immutable supplyPerSecondInterestRateSlopeLow;
    uint public immutable supplyPerSecondInterestRateSlopeHigh;
    uint public immutable supplyPerSecondInterestRateBase;
    uint public immutable borrowKink;
    uint public immutable borrowPerSecondInterestRateSlopeLow;
    uint public immutable borrowPerSecondInterestRateSlopeHigh;
    uint public immutable borrowPerSecondInterestRateBase;
    uint public immutable baseScale;
    uint public immutable baseBorrowMin;
    uint8 public immutable decimals;
    uint8 public immutable numAssets;

    /// @dev Rewards are not tracked here: zero speeds, Comet's usual tracking scale.
    uint public constant trackingIndexScale = 1e15;
    uint public constant baseTrackingSupplySpeed = 0;
    uint public constant baseTrackingBorrowSpeed = 0;

    // ------------------------------------------------------------------ storage (contracts/CometStorage.sol order)

    uint64 internal baseSupplyIndex;
    uint64 internal baseBorrowIndex;
    uint64 internal trackingSupplyIndex;
    uint64 internal trackingBorrowIndex;
    uint104 internal totalSupplyBase;
    uint104 internal totalBorrowBase;
    uint40 internal lastAccrualTime;
    uint8 internal pauseFlags;

    mapping(address => TotalsCollateral) public totalsCollateral;
    mapping(address => mapping(address => bool)) public isAllowed;
    mapping(address => uint) public userNonce;
    mapping(address => UserBasic) public userBasic;
    mapping(address => mapping(address => UserCollateral)) public userCollateral;
    mapping(address => LiquidatorPoints) public liquidatorPoints;

    /// @dev The asset list, two packed words per asset in AssetList.sol's layout (word A: asset | borrowCF16
    ///      << 160 | liquidateCF16 << 176 | liquidationFactor16 << 192; word B: priceFeed | decimals << 160 |
    ///      supplyCap in whole tokens << 168).
    uint256[] internal assetWordA;
    uint256[] internal assetWordB;

    constructor(
        address baseToken_,
        address baseTokenPriceFeed_,
        RateConfig memory rates,
        uint256 baseBorrowMin_,
        AssetConfig[] memory assetConfigs
    ) {
        // sanity checks of the CometWithExtendedAssetList.sol constructor
        uint8 baseDecimals = IDevCometERC20(baseToken_).decimals();
        if (baseDecimals > MAX_BASE_DECIMALS) revert BadDecimals();
        if (assetConfigs.length > MAX_ASSETS) revert TooManyAssets();
        if (IDevCometPriceFeed(baseTokenPriceFeed_).decimals() != PRICE_FEED_DECIMALS) revert BadDecimals();
        uint256 scale = 10 ** baseDecimals;
        if (scale < BASE_ACCRUAL_SCALE) revert BadDecimals();

        baseToken = baseToken_;
        baseTokenPriceFeed = baseTokenPriceFeed_;
        decimals = baseDecimals;
        baseScale = scale;
        baseBorrowMin = baseBorrowMin_;

        // per-year rates become per-second ones by integer division (CometWithExtendedAssetList.sol constructor)
        supplyKink = rates.supplyKink;
        supplyPerSecondInterestRateSlopeLow = rates.supplyPerYearInterestRateSlopeLow / SECONDS_PER_YEAR;
        supplyPerSecondInterestRateSlopeHigh = rates.supplyPerYearInterestRateSlopeHigh / SECONDS_PER_YEAR;
        supplyPerSecondInterestRateBase = rates.supplyPerYearInterestRateBase / SECONDS_PER_YEAR;
        borrowKink = rates.borrowKink;
        borrowPerSecondInterestRateSlopeLow = rates.borrowPerYearInterestRateSlopeLow / SECONDS_PER_YEAR;
        borrowPerSecondInterestRateSlopeHigh = rates.borrowPerYearInterestRateSlopeHigh / SECONDS_PER_YEAR;
        borrowPerSecondInterestRateBase = rates.borrowPerYearInterestRateBase / SECONDS_PER_YEAR;

        numAssets = uint8(assetConfigs.length);
        for (uint256 i = 0; i < assetConfigs.length; i++) {
            (uint256 wordA, uint256 wordB) = _packAsset(assetConfigs[i]);
            assetWordA.push(wordA);
            assetWordB.push(wordB);
        }

        // what initializeStorage() sets up (CometWithExtendedAssetList.sol)
        lastAccrualTime = _now();
        baseSupplyIndex = BASE_INDEX_SCALE;
        baseBorrowIndex = BASE_INDEX_SCALE;
    }

    /// @dev AssetList.sol getPackedAssetInternal: checks, then factors kept to 4 decimals (truncated) and the
    ///      supply cap kept in whole tokens (truncated).
    function _packAsset(AssetConfig memory c) internal view returns (uint256, uint256) {
        if (IDevCometPriceFeed(c.priceFeed).decimals() != PRICE_FEED_DECIMALS) revert BadDecimals();
        if (IDevCometERC20(c.asset).decimals() != c.decimals) revert BadDecimals();
        if (c.borrowCollateralFactor >= c.liquidateCollateralFactor) revert BorrowCFTooLarge();
        if (c.liquidateCollateralFactor > FACTOR_SCALE) revert LiquidateCFTooLarge();
        uint256 borrowCF = uint16(c.borrowCollateralFactor / FACTOR_DESCALE);
        uint256 liquidateCF = uint16(c.liquidateCollateralFactor / FACTOR_DESCALE);
        uint256 liquidationF = uint16(c.liquidationFactor / FACTOR_DESCALE);
        if (borrowCF >= liquidateCF) revert BorrowCFTooLarge();
        uint256 capTokens = uint64(c.supplyCap / (10 ** c.decimals));
        uint256 wordA = uint256(uint160(c.asset)) | (borrowCF << 160) | (liquidateCF << 176) | (liquidationF << 192);
        uint256 wordB = uint256(uint160(c.priceFeed)) | (uint256(c.decimals) << 160) | (capTokens << 168);
        return (wordA, wordB);
    }

    // ------------------------------------------------------------------ asset list (contracts/AssetList.sol)

    function getAssetInfo(uint8 i) public view returns (AssetInfo memory info) {
        if (i >= numAssets) revert BadAsset();
        uint256 wordA = assetWordA[i];
        uint256 wordB = assetWordB[i];
        uint8 assetDecimals = uint8(wordB >> 160);
        uint64 scale = uint64(10 ** assetDecimals);
        info.offset = i;
        info.asset = address(uint160(wordA));
        info.priceFeed = address(uint160(wordB));
        info.scale = scale;
        info.borrowCollateralFactor = uint64(((wordA >> 160) & 0xffff) * FACTOR_DESCALE);
        info.liquidateCollateralFactor = uint64(((wordA >> 176) & 0xffff) * FACTOR_DESCALE);
        info.liquidationFactor = uint64(((wordA >> 192) & 0xffff) * FACTOR_DESCALE);
        info.supplyCap = uint128(((wordB >> 168) & type(uint64).max) * scale);
    }

    /// @dev CometWithExtendedAssetList.sol getAssetInfoByAddress: the first listed asset with that address.
    function getAssetInfoByAddress(address asset) public view returns (AssetInfo memory) {
        for (uint8 i = 0; i < numAssets; i++) {
            AssetInfo memory info = getAssetInfo(i);
            if (info.asset == asset) return info;
        }
        revert BadAsset();
    }

    // ------------------------------------------------------------------ CometExt.sol views

    function totalsBasic() external view returns (TotalsBasic memory) {
        return TotalsBasic(
            baseSupplyIndex, baseBorrowIndex, trackingSupplyIndex, trackingBorrowIndex, totalSupplyBase,
            totalBorrowBase, lastAccrualTime, pauseFlags
        );
    }

    function collateralBalanceOf(address account, address asset) external view returns (uint128) {
        return userCollateral[account][asset].balance;
    }

    function baseTrackingAccrued(address account) external view returns (uint64) {
        return userBasic[account].baseTrackingAccrued;
    }

    function baseAccrualScale() external pure returns (uint64) {
        return BASE_ACCRUAL_SCALE;
    }

    function baseIndexScale() external pure returns (uint64) {
        return BASE_INDEX_SCALE;
    }

    function factorScale() external pure returns (uint64) {
        return FACTOR_SCALE;
    }

    function priceScale() external pure returns (uint64) {
        return PRICE_SCALE;
    }

    // ------------------------------------------------------------------ rates and accrual
    // (contracts/CometWithExtendedAssetList.sol: getUtilization, getSupplyRate, getBorrowRate,
    // accruedInterestIndices, accrueInternal; none of the views accrue first)

    function getUtilization() public view returns (uint) {
        uint supplied = _presentValueSupply(baseSupplyIndex, totalSupplyBase);
        uint borrowed = _presentValueBorrow(baseBorrowIndex, totalBorrowBase);
        if (supplied == 0) return 0;
        return borrowed * FACTOR_SCALE / supplied;
    }

    function getSupplyRate(uint utilization) public view returns (uint64) {
        return _kinkRate(
            utilization, supplyKink, supplyPerSecondInterestRateBase, supplyPerSecondInterestRateSlopeLow,
            supplyPerSecondInterestRateSlopeHigh
        );
    }

    function getBorrowRate(uint utilization) public view returns (uint64) {
        return _kinkRate(
            utilization, borrowKink, borrowPerSecondInterestRateBase, borrowPerSecondInterestRateSlopeLow,
            borrowPerSecondInterestRateSlopeHigh
        );
    }

    /// @dev base + low * u up to the kink; past it base + low * kink + high * (u - kink); each product
    ///      truncated by mulFactor on its own.
    function _kinkRate(uint u, uint kink, uint base, uint low, uint high) internal pure returns (uint64) {
        if (u <= kink) return _safe64(base + _mulFactor(low, u));
        return _safe64(base + _mulFactor(low, kink) + _mulFactor(high, u - kink));
    }

    function _accruedIndices(uint elapsed) internal view returns (uint64 supplyIndex, uint64 borrowIndex) {
        supplyIndex = baseSupplyIndex;
        borrowIndex = baseBorrowIndex;
        if (elapsed > 0) {
            uint u = getUtilization();
            supplyIndex += _safe64(_mulFactor(supplyIndex, getSupplyRate(u) * elapsed));
            borrowIndex += _safe64(_mulFactor(borrowIndex, getBorrowRate(u) * elapsed));
        }
    }

    function _accrue() internal {
        uint40 now_ = _now();
        uint elapsed = uint256(now_ - lastAccrualTime);
        if (elapsed > 0) {
            (baseSupplyIndex, baseBorrowIndex) = _accruedIndices(elapsed);
            // tracking indices: zero speeds, they stay 0
            lastAccrualTime = now_;
        }
    }

    function _now() internal view returns (uint40) {
        if (block.timestamp >= 2 ** 40) revert TimestampTooLarge();
        return uint40(block.timestamp);
    }

    function accrueAccount(address account) external {
        _accrue();
        UserBasic memory basic = userBasic[account];
        _updateBasePrincipal(account, basic, basic.principal);
    }

    // ------------------------------------------------------------------ balances (contracts/CometWithExtendedAssetList.sol)

    function totalSupply() external view returns (uint256) {
        (uint64 supplyIndex,) = _accruedIndices(_now() - lastAccrualTime);
        return _presentValueSupply(supplyIndex, totalSupplyBase);
    }

    function totalBorrow() external view returns (uint256) {
        (, uint64 borrowIndex) = _accruedIndices(_now() - lastAccrualTime);
        return _presentValueBorrow(borrowIndex, totalBorrowBase);
    }

    /// @dev Supply balance at the index accrued to now (0 for a borrower).
    function balanceOf(address account) public view returns (uint256) {
        (uint64 supplyIndex,) = _accruedIndices(_now() - lastAccrualTime);
        int104 principal = userBasic[account].principal;
        return principal > 0 ? _presentValueSupply(supplyIndex, _unsigned104(principal)) : 0;
    }

    /// @dev Borrow balance at the index accrued to now (0 for a supplier).
    function borrowBalanceOf(address account) public view returns (uint256) {
        (, uint64 borrowIndex) = _accruedIndices(_now() - lastAccrualTime);
        int104 principal = userBasic[account].principal;
        return principal < 0 ? _presentValueBorrow(borrowIndex, _unsigned104(-principal)) : 0;
    }

    function getReserves() public view returns (int) {
        (uint64 supplyIndex, uint64 borrowIndex) = _accruedIndices(_now() - lastAccrualTime);
        uint held = IDevCometERC20(baseToken).balanceOf(address(this));
        return _signed256(held) - _signed256(_presentValueSupply(supplyIndex, totalSupplyBase))
            + _signed256(_presentValueBorrow(borrowIndex, totalBorrowBase));
    }

    // ------------------------------------------------------------------ prices and health
    // (contracts/CometWithExtendedAssetList.sol getPrice, isBorrowCollateralized, isLiquidatable: STORED
    // indices, base debt priced with signedMulPrice, assets walked in offset order with an early exit)

    function getPrice(address priceFeed) public view returns (uint256) {
        (, int256 answer,,,) = IDevCometPriceFeed(priceFeed).latestRoundData();
        if (answer <= 0) revert BadPrice();
        return uint256(answer);
    }

    function isBorrowCollateralized(address account) public view returns (bool) {
        return _liquidityAtLeastZero(account, true);
    }

    function isLiquidatable(address account) public view returns (bool) {
        int104 principal = userBasic[account].principal;
        if (principal >= 0) return false;
        return !_liquidityAtLeastZero(account, false);
    }

    /// @dev Shared loop of the two health checks: borrow side weights by borrowCollateralFactor, liquidation
    ///      side by liquidateCollateralFactor. A non-negative principal is healthy on both sides.
    function _liquidityAtLeastZero(address account, bool borrowSide) internal view returns (bool) {
        UserBasic memory basic = userBasic[account];
        if (basic.principal >= 0) return true;
        int liquidity = _signedMulPrice(_presentValue(basic.principal), getPrice(baseTokenPriceFeed), uint64(baseScale));
        for (uint8 i = 0; i < numAssets; i++) {
            if (!_isInAsset(basic.assetsIn, i, basic._reserved)) continue;
            if (liquidity >= 0) return true;
            AssetInfo memory info = getAssetInfo(i);
            uint value = _mulPrice(userCollateral[account][info.asset].balance, getPrice(info.priceFeed), info.scale);
            uint factor = borrowSide ? info.borrowCollateralFactor : info.liquidateCollateralFactor;
            liquidity += _signed256(_mulFactor(value, factor));
        }
        return liquidity >= 0;
    }

    // ------------------------------------------------------------------ supply (contracts/CometWithExtendedAssetList.sol
    // supplyInternal, supplyBase, supplyCollateral)

    function supply(address asset, uint amount) external {
        _supply(msg.sender, msg.sender, asset, amount);
    }

    function supplyTo(address dst, address asset, uint amount) external {
        _supply(msg.sender, dst, asset, amount);
    }

    function _supply(address from, address dst, address asset, uint amount) internal {
        if (asset == baseToken) {
            if (amount == type(uint256).max) amount = borrowBalanceOf(dst); // repay everything
            _supplyBase(from, dst, amount);
        } else {
            _supplyCollateral(from, dst, asset, _safe128(amount));
        }
    }

    /// @dev Tokens come in before the accrual; the new balance repays debt first, the rest is supply.
    function _supplyBase(address from, address dst, uint256 amount) internal {
        _transferIn(baseToken, from, amount);
        _accrue();

        UserBasic memory dstUser = userBasic[dst];
        int104 principal = dstUser.principal;
        int104 principalNew = _principalValue(_presentValue(principal) + _signed256(amount));
        (uint104 repaid, uint104 supplied) = _repayAndSupplyAmount(principal, principalNew);
        totalSupplyBase += supplied;
        totalBorrowBase -= repaid;
        _updateBasePrincipal(dst, dstUser, principalNew);

        emit Supply(from, dst, amount);
        if (supplied > 0) emit Transfer(address(0), dst, _presentValueSupply(baseSupplyIndex, supplied));
    }

    function _supplyCollateral(address from, address dst, address asset, uint128 amount) internal {
        _transferIn(asset, from, amount);

        AssetInfo memory info = getAssetInfoByAddress(asset);
        TotalsCollateral memory totals = totalsCollateral[asset];
        totals.totalSupplyAsset += amount;
        if (totals.totalSupplyAsset > info.supplyCap) revert SupplyCapExceeded();

        uint128 balance = userCollateral[dst][asset].balance;
        uint128 balanceNew = balance + amount;
        totalsCollateral[asset] = totals;
        userCollateral[dst][asset].balance = balanceNew;
        _updateAssetsIn(dst, info, balance, balanceNew);

        emit SupplyCollateral(from, dst, asset, amount);
    }

    // ------------------------------------------------------------------ withdraw (contracts/CometWithExtendedAssetList.sol
    // withdrawInternal, withdrawBase, withdrawCollateral)

    function withdraw(address asset, uint amount) external {
        _withdraw(msg.sender, msg.sender, asset, amount);
    }

    function withdrawTo(address to, address asset, uint amount) external {
        _withdraw(msg.sender, to, asset, amount);
    }

    function _withdraw(address src, address to, address asset, uint amount) internal {
        if (asset == baseToken) {
            if (amount == type(uint256).max) amount = balanceOf(src); // withdraw the whole supply
            _withdrawBase(src, to, amount);
        } else {
            _withdrawCollateral(src, to, asset, _safe128(amount));
        }
    }

    /// @dev Withdraws supply first, then borrows; a resulting debt must be at least baseBorrowMin (in present
    ///      value) and pass isBorrowCollateralized.
    function _withdrawBase(address src, address to, uint256 amount) internal {
        _accrue();

        UserBasic memory srcUser = userBasic[src];
        int104 principal = srcUser.principal;
        int256 balanceNew = _presentValue(principal) - _signed256(amount);
        int104 principalNew = _principalValue(balanceNew);
        (uint104 withdrawn, uint104 borrowed) = _withdrawAndBorrowAmount(principal, principalNew);
        totalSupplyBase -= withdrawn;
        totalBorrowBase += borrowed;
        _updateBasePrincipal(src, srcUser, principalNew);

        if (balanceNew < 0) {
            if (uint256(-balanceNew) < baseBorrowMin) revert BorrowTooSmall();
            if (!isBorrowCollateralized(src)) revert NotCollateralized();
        }

        _transferOut(baseToken, to, amount);
        emit Withdraw(src, to, amount);
        if (withdrawn > 0) emit Transfer(src, address(0), _presentValueSupply(baseSupplyIndex, withdrawn));
    }

    /// @dev No accrual here (Comet relies on borrowCF < liquidateCF for that).
    function _withdrawCollateral(address src, address to, address asset, uint128 amount) internal {
        uint128 balance = userCollateral[src][asset].balance;
        uint128 balanceNew = balance - amount;
        totalsCollateral[asset].totalSupplyAsset -= amount;
        userCollateral[src][asset].balance = balanceNew;

        AssetInfo memory info = getAssetInfoByAddress(asset);
        _updateAssetsIn(src, info, balance, balanceNew);
        if (!isBorrowCollateralized(src)) revert NotCollateralized();

        _transferOut(asset, to, amount);
        emit WithdrawCollateral(src, to, asset, amount);
    }

    // ------------------------------------------------------------------ absorb (contracts/CometWithExtendedAssetList.sol
    // absorb, absorbInternal)

    function absorb(address absorber, address[] calldata accounts) external {
        uint startGas = gasleft();
        _accrue();
        for (uint i = 0; i < accounts.length; i++) {
            _absorbOne(absorber, accounts[i]);
        }
        uint gasUsed = startGas - gasleft();

        LiquidatorPoints memory points = liquidatorPoints[absorber];
        points.numAbsorbs++;
        points.numAbsorbed += _safe64(accounts.length);
        points.approxSpend += _safe128(gasUsed * block.basefee);
        liquidatorPoints[absorber] = points;
    }

    /// @dev Every collateral is seized; the sum over assets of mulFactor(value, liquidationFactor) (value =
    ///      mulPrice of the seized amount) is turned into base once, with divPrice, and credited to the
    ///      balance, which never ends below 0 (the protocol's reserves absorb what is left of the debt).
    function _absorbOne(address absorber, address account) internal {
        if (!isLiquidatable(account)) revert NotLiquidatable();

        UserBasic memory user = userBasic[account];
        int104 principal = user.principal;
        int256 balance = _presentValue(principal);
        uint256 basePrice = getPrice(baseTokenPriceFeed);
        uint256 credited = 0;

        for (uint8 i = 0; i < numAssets; i++) {
            if (!_isInAsset(user.assetsIn, i, user._reserved)) continue;
            AssetInfo memory info = getAssetInfo(i);
            uint128 seized = userCollateral[account][info.asset].balance;
            userCollateral[account][info.asset].balance = 0;
            totalsCollateral[info.asset].totalSupplyAsset -= seized;
            uint256 value = _mulPrice(seized, getPrice(info.priceFeed), info.scale);
            credited += _mulFactor(value, info.liquidationFactor);
            emit AbsorbCollateral(absorber, account, info.asset, seized, value);
        }

        int256 balanceNew = balance + _signed256(_divPrice(credited, basePrice, uint64(baseScale)));
        if (balanceNew < 0) balanceNew = 0;
        int104 principalNew = _principalValue(balanceNew);
        _updateBasePrincipal(account, user, principalNew);
        userBasic[account].assetsIn = 0;
        userBasic[account]._reserved = 0;

        (uint104 repaid, uint104 supplied) = _repayAndSupplyAmount(principal, principalNew);
        totalSupplyBase += supplied;
        totalBorrowBase -= repaid;

        uint256 paidOut = _unsigned256(balanceNew - balance);
        emit AbsorbDebt(absorber, account, paidOut, _mulPrice(paidOut, basePrice, uint64(baseScale)));
        if (principalNew > 0) {
            emit Transfer(address(0), account, _presentValueSupply(baseSupplyIndex, _unsigned104(principalNew)));
        }
    }

    // ------------------------------------------------------------------ principal bookkeeping

    /// @dev contracts/CometWithExtendedAssetList.sol updateBasePrincipal, without reward accrual (speeds are 0).
    function _updateBasePrincipal(address account, UserBasic memory basic, int104 principalNew) internal {
        basic.principal = principalNew;
        basic.baseTrackingIndex = principalNew >= 0 ? trackingSupplyIndex : trackingBorrowIndex;
        userBasic[account] = basic;
    }

    /// @dev A rise of the principal split into (debt repaid, supply added).
    function _repayAndSupplyAmount(int104 before, int104 after_) internal pure returns (uint104, uint104) {
        if (after_ < before) return (0, 0);
        if (after_ <= 0) return (uint104(after_ - before), 0);
        if (before >= 0) return (0, uint104(after_ - before));
        return (uint104(-before), uint104(after_));
    }

    /// @dev A fall of the principal split into (supply withdrawn, debt borrowed).
    function _withdrawAndBorrowAmount(int104 before, int104 after_) internal pure returns (uint104, uint104) {
        if (after_ > before) return (0, 0);
        if (after_ >= 0) return (uint104(before - after_), 0);
        if (before <= 0) return (0, uint104(before - after_));
        return (uint104(before), uint104(-after_));
    }

    /// @dev isInAsset: offsets 0-15 in assetsIn, 16-23 in _reserved.
    function _isInAsset(uint16 assetsIn, uint8 offset, uint8 reserved) internal pure returns (bool) {
        if (offset < 16) return assetsIn & (uint16(1) << offset) != 0;
        if (offset < 24) return reserved & (uint8(1) << (offset - 16)) != 0;
        return false;
    }

    /// @dev updateAssetsIn: the asset's bit is set when a balance becomes non-zero, cleared when it becomes 0.
    function _updateAssetsIn(address account, AssetInfo memory info, uint128 before, uint128 after_) internal {
        bool entered = before == 0 && after_ != 0;
        bool exited = before != 0 && after_ == 0;
        if (!entered && !exited) return;
        UserBasic storage basic = userBasic[account];
        if (info.offset < 16) {
            uint16 bit = uint16(1) << info.offset;
            basic.assetsIn = entered ? basic.assetsIn | bit : basic.assetsIn & ~bit;
        } else if (info.offset < 24) {
            uint8 bit = uint8(1) << (info.offset - 16);
            basic._reserved = entered ? basic._reserved | bit : basic._reserved & ~bit;
        }
    }

    // ------------------------------------------------------------------ present and principal values
    // (contracts/CometCore.sol: present values truncate; supply principal rounds down, borrow principal up)

    function _presentValue(int104 principal) internal view returns (int256) {
        if (principal >= 0) return _signed256(_presentValueSupply(baseSupplyIndex, uint104(principal)));
        return -_signed256(_presentValueBorrow(baseBorrowIndex, uint104(-principal)));
    }

    function _presentValueSupply(uint64 index, uint104 principal) internal pure returns (uint256) {
        return uint256(principal) * index / BASE_INDEX_SCALE;
    }

    function _presentValueBorrow(uint64 index, uint104 principal) internal pure returns (uint256) {
        return uint256(principal) * index / BASE_INDEX_SCALE;
    }

    function _principalValue(int256 presentValue) internal view returns (int104) {
        if (presentValue >= 0) return _signed104(_principalValueSupply(baseSupplyIndex, uint256(presentValue)));
        return -_signed104(_principalValueBorrow(baseBorrowIndex, uint256(-presentValue)));
    }

    function _principalValueSupply(uint64 index, uint256 presentValue) internal pure returns (uint104) {
        return _safe104(presentValue * BASE_INDEX_SCALE / index);
    }

    function _principalValueBorrow(uint64 index, uint256 presentValue) internal pure returns (uint104) {
        return _safe104((presentValue * BASE_INDEX_SCALE + index - 1) / index);
    }

    // ------------------------------------------------------------------ scaling helpers (contracts/CometWithExtendedAssetList.sol)

    function _mulFactor(uint n, uint factor) internal pure returns (uint) {
        return n * factor / FACTOR_SCALE;
    }

    function _mulPrice(uint n, uint price, uint64 fromScale) internal pure returns (uint) {
        return n * price / fromScale;
    }

    /// @dev Signed: Solidity's int division truncates toward zero, as Comet's does.
    function _signedMulPrice(int n, uint price, uint64 fromScale) internal pure returns (int) {
        return n * _signed256(price) / int256(uint256(fromScale));
    }

    function _divPrice(uint n, uint price, uint64 toScale) internal pure returns (uint) {
        return n * toScale / price;
    }

    // ------------------------------------------------------------------ checked casts (contracts/CometMath.sol)

    function _safe64(uint n) internal pure returns (uint64) {
        if (n > type(uint64).max) revert InvalidUInt64();
        return uint64(n);
    }

    function _safe104(uint n) internal pure returns (uint104) {
        if (n > type(uint104).max) revert InvalidUInt104();
        return uint104(n);
    }

    function _safe128(uint n) internal pure returns (uint128) {
        if (n > type(uint128).max) revert InvalidUInt128();
        return uint128(n);
    }

    function _signed104(uint104 n) internal pure returns (int104) {
        if (n > uint104(type(int104).max)) revert InvalidInt104();
        return int104(n);
    }

    function _signed256(uint256 n) internal pure returns (int256) {
        if (n > uint256(type(int256).max)) revert InvalidInt256();
        return int256(n);
    }

    function _unsigned104(int104 n) internal pure returns (uint104) {
        if (n < 0) revert NegativeNumber();
        return uint104(n);
    }

    function _unsigned256(int256 n) internal pure returns (uint256) {
        if (n < 0) revert NegativeNumber();
        return uint256(n);
    }

    // ------------------------------------------------------------------ token transfers (plain: the devnet's tokens)

    function _transferIn(address asset, address from, uint amount) internal {
        if (!IDevCometERC20(asset).transferFrom(from, address(this), amount)) revert TransferInFailed();
    }

    function _transferOut(address asset, address to, uint amount) internal {
        if (!IDevCometERC20(asset).transfer(to, amount)) revert TransferOutFailed();
    }
}
