// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

interface IDevEVC {
    function getCurrentOnBehalfOfAccount(address controllerToCheck) external view returns (address, bool);
    function getControllers(address account) external view returns (address[] memory);
    function getCollaterals(address account) external view returns (address[] memory);
    function isControllerEnabled(address account, address vault) external view returns (bool);
    function isCollateralEnabled(address account, address vault) external view returns (bool);
    function isAccountStatusCheckDeferred(address account) external view returns (bool);
    function getLastAccountStatusCheckTimestamp(address account) external view returns (uint256);
    function areChecksInProgress() external view returns (bool);
    function requireAccountStatusCheck(address account) external payable;
    function forgiveAccountStatusCheck(address account) external payable;
    function disableController(address account) external payable;
    function call(address target, address onBehalfOfAccount, uint256 value, bytes calldata data)
        external
        payable
        returns (bytes memory);
    function controlCollateral(address target, address onBehalfOfAccount, uint256 value, bytes calldata data)
        external
        payable
        returns (bytes memory);
}

interface IDevQuoter {
    function getQuote(uint256 inAmount, address base, address quote) external view returns (uint256);
    function getQuotes(uint256 inAmount, address base, address quote) external view returns (uint256, uint256);
}

interface IDevERC20 {
    function decimals() external view returns (uint8);
    function balanceOf(address account) external view returns (uint256);
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
}

/// @title DevEVault
/// @notice A devnet stand-in for an Euler Vault Kit vault (euler-xyz/euler-vault-kit, src/EVault) with the external
///         ABI and the arithmetic positions depend on. Each rule names the file it follows:
///         - debt is tracked in `Owed` units, assets shifted left by 31 bits (shared/Constants.sol
///           INTERNAL_DEBT_PRECISION_SHIFT); an account's current debt is owed * vaultAccumulator / userAccumulator,
///           rounded down (shared/BorrowUtils.sol getCurrentOwed, types/Owed.sol mulDiv), and shown in assets rounded
///           up (types/Owed.sol toAssetsUp) by `debtOf`; `debtOfExact` answers the Owed figure;
///         - shares convert with a virtual deposit of 1e6 on both sides, totalAssets = cash + totalBorrows rounded
///           up (shared/lib/ConversionHelpers.sol);
///         - LTVs are 1e4-scaled (shared/Constants.sol CONFIG_SCALE); the liquidation LTV ramps down linearly to its
///           target over `rampDuration` when lowered (shared/types/LTVConfig.sol getLTV / setLTV;
///           modules/Governance.sol setLTV);
///         - liquidity: Σ quote(balance) * LTV / 1e4 over the account's collaterals with a non-zero LTV and balance,
///           against the debt's quote (or the debt itself when the asset is the unit of account); mid-point
///           `getQuote` with liquidation LTVs for liquidation, `getQuotes` (bid for collateral, ask for debt) with
///           borrow LTVs for the account status check (shared/LiquidityUtils.sol);
///         - the account status check passes while collateral value > liability value (LiquidityUtils.checkLiquidity);
///           liquidation finds no violation while collateralAdjustedValue > liabilityValue, so an account whose two
///           values are equal is liquidated (modules/Liquidation.sol calculateMaxLiquidation), with the discount
///           capped by `maxLiquidationDiscount` and the cool-off measured from the EVC's last status check.
///
///         Simplified away (the figures above do not depend on them): interest-rate models (the interest accumulator
///         is a number the governor advances: `setInterestAccumulator`), fees, caps, hooks, flash loans, permit2,
///         balance forwarding, pullDebt, debt socialisation, vault status checks, the DToken and EVC-routed governance.
contract DevEVault {
    uint256 internal constant SHIFT = 31;
    uint256 internal constant CONFIG_SCALE = 1e4;
    uint256 internal constant VIRTUAL_DEPOSIT = 1e6;

    struct LTVConfig {
        uint16 borrowLTV;
        uint16 liquidationLTV;
        uint16 initialLiquidationLTV;
        uint48 targetTimestamp;
        uint32 rampDuration;
        bool initialized;
    }

    struct UserDebt {
        uint256 owed;
        uint256 accumulator;
    }

    struct Liq {
        address[] collaterals;
        uint256 liability;
        uint256 repay;
        uint256 yieldBalance;
    }

    IDevEVC public immutable evc;
    address public immutable asset;
    address public immutable oracle;
    address public immutable unitOfAccount;
    uint8 public immutable decimals;
    address public governorAdmin;
    string public name;
    string public symbol;

    uint256 public totalSupply;
    uint256 public cash;
    uint256 internal totalBorrowsExact;
    uint256 internal accumulator = 1e27;
    uint16 internal maxDiscount;
    uint16 internal coolOff;

    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    mapping(address => UserDebt) internal debts;
    mapping(address => LTVConfig) internal ltvs;
    address[] internal ltvList;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);
    event Deposit(address indexed sender, address indexed owner, uint256 assets, uint256 shares);
    event Withdraw(address indexed sender, address indexed receiver, address indexed owner, uint256 assets,
                   uint256 shares);
    event Borrow(address indexed account, uint256 assets);
    event Repay(address indexed account, uint256 assets);
    event Liquidate(address indexed liquidator, address indexed violator, address collateral, uint256 repayAssets,
                    uint256 yieldBalance);
    event GovSetLTV(address indexed collateral, uint16 borrowLTV, uint16 liquidationLTV, uint16 initialLiquidationLTV,
                    uint48 targetTimestamp, uint32 rampDuration, bool initialized);
    event GovSetMaxLiquidationDiscount(uint16 newDiscount);
    event GovSetLiquidationCoolOffTime(uint16 newCoolOffTime);
    event InterestAccumulatorSet(uint256 accumulator);

    error E_Unauthorized();
    error E_CheckUnauthorized();
    error E_ControllerDisabled();
    error E_NoLiability();
    error E_NotController();
    error E_TransientState();
    error E_AccountLiquidity();
    error E_NoPriceOracle();
    error E_InsufficientCash();
    error E_InsufficientBalance();
    error E_InsufficientAllowance();
    error E_InsufficientDebt();
    error E_RepayTooMuch();
    error E_OutstandingDebt();
    error E_SelfLiquidation();
    error E_BadCollateral();
    error E_CollateralDisabled();
    error E_ViolatorLiquidityDeferred();
    error E_LiquidationCoolOff();
    error E_ExcessiveRepayAmount();
    error E_MinYield();
    error E_InvalidLTVAsset();
    error E_LTVBorrow();
    error E_LTVLiquidation();
    error E_ConfigAmountTooLargeToEncode();
    error E_BadMaxLiquidationDiscount();

    constructor(address evc_, address asset_, address oracle_, address unitOfAccount_, string memory name_,
                string memory symbol_) {
        evc = IDevEVC(evc_);
        asset = asset_;
        oracle = oracle_;
        unitOfAccount = unitOfAccount_;
        decimals = IDevERC20(asset_).decimals();
        governorAdmin = msg.sender;
        name = name_;
        symbol = symbol_;
    }

    /// @dev EVault's callThroughEVC: a direct call re-enters through `evc.call(this, msg.sender, 0, msg.data)`, so
    ///      every operation runs with the EVC's context and deferred account status checks.
    modifier callThroughEVC() {
        if (msg.sender == address(evc)) {
            _;
        } else {
            bytes memory result = evc.call(address(this), msg.sender, 0, msg.data);
            assembly {
                return(add(32, result), mload(result))
            }
        }
    }

    modifier governorOnly() {
        if (msg.sender != governorAdmin) revert E_Unauthorized();
        _;
    }

    // ------------------------------------------------------------------ governance (modules/Governance.sol)

    function EVC() external view returns (address) {
        return address(evc);
    }

    function setLTV(address collateral, uint16 borrowLTV, uint16 liquidationLTV, uint32 rampDuration)
        external
        governorOnly
    {
        if (collateral == address(this)) revert E_InvalidLTVAsset();
        if (borrowLTV > CONFIG_SCALE || liquidationLTV > CONFIG_SCALE) revert E_ConfigAmountTooLargeToEncode();
        if (borrowLTV > liquidationLTV) revert E_LTVBorrow();
        LTVConfig memory current = ltvs[collateral];
        uint16 inEffect = _liquidationLTV(current);
        if (liquidationLTV >= inEffect && rampDuration > 0) revert E_LTVLiquidation();
        LTVConfig memory next = LTVConfig({
            borrowLTV: borrowLTV,
            liquidationLTV: liquidationLTV,
            initialLiquidationLTV: inEffect,
            targetTimestamp: uint48(block.timestamp + rampDuration),
            rampDuration: rampDuration,
            initialized: true
        });
        ltvs[collateral] = next;
        if (!current.initialized) ltvList.push(collateral);
        emit GovSetLTV(collateral, borrowLTV, liquidationLTV, inEffect, next.targetTimestamp, rampDuration,
                       !current.initialized);
    }

    function setMaxLiquidationDiscount(uint16 newDiscount) external governorOnly {
        if (newDiscount > CONFIG_SCALE) revert E_BadMaxLiquidationDiscount();
        maxDiscount = newDiscount;
        emit GovSetMaxLiquidationDiscount(newDiscount);
    }

    function setLiquidationCoolOffTime(uint16 newCoolOffTime) external governorOnly {
        coolOff = newCoolOffTime;
        emit GovSetLiquidationCoolOffTime(newCoolOffTime);
    }

    /// @notice Devnet only: moves the interest accumulator (1e27 = no interest yet) forward; total borrows follow.
    function setInterestAccumulator(uint256 newAccumulator) external governorOnly {
        require(newAccumulator >= accumulator, "accumulator goes forward");
        totalBorrowsExact = totalBorrowsExact * newAccumulator / accumulator;
        accumulator = newAccumulator;
        emit InterestAccumulatorSet(newAccumulator);
    }

    function LTVBorrow(address collateral) external view returns (uint16) {
        return ltvs[collateral].borrowLTV;
    }

    function LTVLiquidation(address collateral) external view returns (uint16) {
        return _liquidationLTV(ltvs[collateral]);
    }

    function LTVFull(address collateral) external view returns (uint16, uint16, uint16, uint48, uint32) {
        LTVConfig memory c = ltvs[collateral];
        return (c.borrowLTV, c.liquidationLTV, c.initialLiquidationLTV, c.targetTimestamp, c.rampDuration);
    }

    function LTVList() external view returns (address[] memory) {
        return ltvList;
    }

    function maxLiquidationDiscount() external view returns (uint16) {
        return maxDiscount;
    }

    function liquidationCoolOffTime() external view returns (uint16) {
        return coolOff;
    }

    // ------------------------------------------------------------------ ERC20 shares

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    function transfer(address to, uint256 amount) external callThroughEVC returns (bool) {
        address account = _account(false);
        _moveShares(account, to, amount);
        evc.requireAccountStatusCheck(account);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external callThroughEVC returns (bool) {
        address account = _account(false);
        _spendAllowance(from, account, amount);
        _moveShares(from, to, amount);
        evc.requireAccountStatusCheck(from);
        return true;
    }

    // ------------------------------------------------------------------ ERC4626

    function totalAssets() public view returns (uint256) {
        return cash + _toAssetsUp(totalBorrowsExact);
    }

    function convertToAssets(uint256 shares) public view returns (uint256) {
        return shares * (totalAssets() + VIRTUAL_DEPOSIT) / (totalSupply + VIRTUAL_DEPOSIT);
    }

    function convertToShares(uint256 assets) public view returns (uint256) {
        return assets * (totalSupply + VIRTUAL_DEPOSIT) / (totalAssets() + VIRTUAL_DEPOSIT);
    }

    function deposit(uint256 assets, address receiver) external callThroughEVC returns (uint256 shares) {
        address account = _account(false);
        shares = convertToShares(assets);
        require(IDevERC20(asset).transferFrom(account, address(this), assets), "pull");
        cash += assets;
        totalSupply += shares;
        balanceOf[receiver] += shares;
        emit Transfer(address(0), receiver, shares);
        emit Deposit(account, receiver, assets, shares);
    }

    function redeem(uint256 shares, address receiver, address owner) external callThroughEVC returns (uint256 assets) {
        address account = _account(false);
        assets = convertToAssets(shares);
        if (assets > cash) revert E_InsufficientCash();
        _spendAllowance(owner, account, shares);
        if (balanceOf[owner] < shares) revert E_InsufficientBalance();
        balanceOf[owner] -= shares;
        totalSupply -= shares;
        cash -= assets;
        require(IDevERC20(asset).transfer(receiver, assets), "push");
        emit Transfer(owner, address(0), shares);
        emit Withdraw(account, receiver, owner, assets, shares);
        evc.requireAccountStatusCheck(owner);
    }

    // ------------------------------------------------------------------ borrowing (modules/Borrowing.sol)

    function interestAccumulator() external view returns (uint256) {
        return accumulator;
    }

    function totalBorrows() external view returns (uint256) {
        return _toAssetsUp(totalBorrowsExact);
    }

    function debtOf(address account) external view returns (uint256) {
        return _toAssetsUp(_currentOwed(account));
    }

    function debtOfExact(address account) external view returns (uint256) {
        return _currentOwed(account);
    }

    function borrow(uint256 assets, address receiver) external callThroughEVC returns (uint256) {
        address account = _account(true);
        if (assets > cash) revert E_InsufficientCash();
        UserDebt storage d = debts[account];
        d.owed = _currentOwed(account) + (assets << SHIFT);
        d.accumulator = accumulator;
        totalBorrowsExact += assets << SHIFT;
        cash -= assets;
        require(IDevERC20(asset).transfer(receiver, assets), "push");
        emit Borrow(account, assets);
        evc.requireAccountStatusCheck(account);
        return assets;
    }

    function repay(uint256 assets, address receiver) external callThroughEVC returns (uint256) {
        address account = _account(false);
        uint256 owedExact = _currentOwed(receiver);
        uint256 owed = _toAssetsUp(owedExact);
        if (assets == type(uint256).max) assets = owed;
        if (assets > owed) revert E_RepayTooMuch();
        require(IDevERC20(asset).transferFrom(account, address(this), assets), "pull");
        cash += assets;
        uint256 remaining = (owed - assets) << SHIFT;
        debts[receiver] = UserDebt(remaining, accumulator);
        totalBorrowsExact = totalBorrowsExact > owedExact ? totalBorrowsExact - owedExact + remaining : remaining;
        emit Repay(receiver, assets);
        return assets;
    }

    // ------------------------------------------------------------------ risk manager (modules/RiskManager.sol)

    function accountLiquidity(address account, bool liquidation)
        external
        view
        returns (uint256 collateralValue, uint256 liabilityValue)
    {
        _validateController(account);
        return _liquidity(account, evc.getCollaterals(account), liquidation);
    }

    function accountLiquidityFull(address account, bool liquidation)
        external
        view
        returns (address[] memory collaterals, uint256[] memory collateralValues, uint256 liabilityValue)
    {
        _validateController(account);
        if (oracle == address(0)) revert E_NoPriceOracle();
        collaterals = evc.getCollaterals(account);
        collateralValues = new uint256[](collaterals.length);
        for (uint256 i; i < collaterals.length; ++i) {
            collateralValues[i] = _collateralValue(account, collaterals[i], liquidation);
        }
        liabilityValue = _liabilityValue(_currentOwed(account), liquidation);
    }

    function checkAccountStatus(address account, address[] calldata collaterals) external view returns (bytes4) {
        if (msg.sender != address(evc) || !evc.areChecksInProgress()) revert E_CheckUnauthorized();
        uint256 owed = _currentOwed(account);
        if (owed > 0) {
            if (oracle == address(0)) revert E_NoPriceOracle();
            uint256 liability = _liabilityValue(owed, false);
            uint256 collateral;
            bool healthy;
            for (uint256 i; i < collaterals.length; ++i) {
                collateral += _collateralValue(account, collaterals[i], false);
                if (collateral > liability) {
                    healthy = true;
                    break;
                }
            }
            if (!healthy) revert E_AccountLiquidity();
        }
        return this.checkAccountStatus.selector;
    }

    function disableController() external callThroughEVC {
        address account = _account(false);
        if (debts[account].owed != 0) revert E_OutstandingDebt();
        evc.disableController(account);
    }

    // ------------------------------------------------------------------ liquidation (modules/Liquidation.sol)

    function checkLiquidation(address liquidator, address violator, address collateral)
        external
        view
        returns (uint256 maxRepay, uint256 maxYield)
    {
        Liq memory l = _calculateLiquidation(liquidator, violator, collateral, type(uint256).max);
        return (l.repay, l.yieldBalance);
    }

    function liquidate(address violator, address collateral, uint256 repayAssets, uint256 minYieldBalance)
        external
        callThroughEVC
    {
        address liquidator = _account(true);
        Liq memory l = _calculateLiquidation(liquidator, violator, collateral, repayAssets);
        if (minYieldBalance > l.yieldBalance) revert E_MinYield();
        if (l.repay > 0) _transferBorrow(violator, liquidator, l.repay);
        if (l.yieldBalance > 0) {
            evc.controlCollateral(collateral, violator, 0,
                                  abi.encodeCall(IDevERC20.transfer, (liquidator, l.yieldBalance)));
            evc.forgiveAccountStatusCheck(violator);
        }
        emit Liquidate(liquidator, violator, collateral, l.repay, l.yieldBalance);
        evc.requireAccountStatusCheck(liquidator);
    }

    function _calculateLiquidation(address liquidator, address violator, address collateral, uint256 desiredRepay)
        internal
        view
        returns (Liq memory l)
    {
        l.liability = _toAssetsUp(_currentOwed(violator));
        l.collaterals = evc.getCollaterals(violator);
        if (violator == liquidator) revert E_SelfLiquidation();
        if (ltvs[collateral].targetTimestamp == 0) revert E_BadCollateral();
        _validateController(violator);
        if (!evc.isCollateralEnabled(violator, collateral)) revert E_CollateralDisabled();
        if (evc.isAccountStatusCheckDeferred(violator)) revert E_ViolatorLiquidityDeferred();
        if (block.timestamp < evc.getLastAccountStatusCheckTimestamp(violator) + coolOff) {
            revert E_LiquidationCoolOff();
        }
        if (l.liability == 0) return l;
        _maxLiquidation(l, violator, collateral);
        if (desiredRepay != type(uint256).max) {
            if (desiredRepay > l.repay) revert E_ExcessiveRepayAmount();
            if (l.repay > 0) {
                l.yieldBalance = desiredRepay * l.yieldBalance / l.repay;
                l.repay = desiredRepay;
            }
        }
    }

    function _maxLiquidation(Liq memory l, address violator, address collateral) internal view {
        (uint256 collateralAdjusted, uint256 liabilityValue) = _liquidity(violator, l.collaterals, true);
        if (collateralAdjusted > liabilityValue) return;  // no violation: equal values are liquidated
        uint256 discountFactor = collateralAdjusted * 1e18 / liabilityValue;
        uint256 minDiscountFactor = 1e18 - uint256(1e18) * maxDiscount / CONFIG_SCALE;
        if (discountFactor < minDiscountFactor) discountFactor = minDiscountFactor;
        uint256 balance = IDevERC20(collateral).balanceOf(violator);
        uint256 collateralValue = IDevQuoter(oracle).getQuote(balance, collateral, unitOfAccount);
        if (collateralValue == 0) {
            l.yieldBalance = balance;
            return;
        }
        uint256 maxRepayValue = liabilityValue;
        uint256 maxYieldValue = maxRepayValue * 1e18 / discountFactor;
        if (collateralValue < maxYieldValue) {
            maxRepayValue = collateralValue * discountFactor / 1e18;
            maxYieldValue = collateralValue;
        }
        l.repay = maxRepayValue * l.liability / liabilityValue;
        l.yieldBalance = maxYieldValue * balance / collateralValue;
    }

    // ------------------------------------------------------------------ internals

    function _account(bool checkController) internal view returns (address account) {
        bool enabled;
        (account, enabled) = evc.getCurrentOnBehalfOfAccount(checkController ? address(this) : address(0));
        if (checkController && !enabled) revert E_ControllerDisabled();
    }

    function _validateController(address account) internal view {
        address[] memory controllers = evc.getControllers(account);
        if (controllers.length > 1) revert E_TransientState();
        if (controllers.length == 0) revert E_NoLiability();
        if (controllers[0] != address(this)) revert E_NotController();
    }

    function _liquidationLTV(LTVConfig memory c) internal view returns (uint16) {
        if (block.timestamp >= c.targetTimestamp || c.liquidationLTV >= c.initialLiquidationLTV) {
            return c.liquidationLTV;
        }
        uint256 remaining = c.targetTimestamp - block.timestamp;
        uint256 target = c.liquidationLTV;
        return uint16(target + (uint256(c.initialLiquidationLTV) - target) * remaining / c.rampDuration);
    }

    function _liquidity(address account, address[] memory collaterals, bool liquidation)
        internal
        view
        returns (uint256 collateralValue, uint256 liabilityValue)
    {
        if (oracle == address(0)) revert E_NoPriceOracle();
        for (uint256 i; i < collaterals.length; ++i) {
            collateralValue += _collateralValue(account, collaterals[i], liquidation);
        }
        liabilityValue = _liabilityValue(_currentOwed(account), liquidation);
    }

    function _collateralValue(address account, address collateral, bool liquidation) internal view returns (uint256) {
        LTVConfig memory c = ltvs[collateral];
        uint256 ltv = liquidation ? _liquidationLTV(c) : c.borrowLTV;
        if (ltv == 0) return 0;
        uint256 balance = IDevERC20(collateral).balanceOf(account);
        if (balance == 0) return 0;
        uint256 value;
        if (liquidation) {
            value = IDevQuoter(oracle).getQuote(balance, collateral, unitOfAccount);
        } else {
            (value,) = IDevQuoter(oracle).getQuotes(balance, collateral, unitOfAccount);
        }
        return value * ltv / CONFIG_SCALE;
    }

    function _liabilityValue(uint256 owedExact, bool liquidation) internal view returns (uint256 value) {
        uint256 owed = _toAssetsUp(owedExact);
        if (owed == 0) return 0;
        if (asset == unitOfAccount) return owed;
        if (liquidation) return IDevQuoter(oracle).getQuote(owed, asset, unitOfAccount);
        (, value) = IDevQuoter(oracle).getQuotes(owed, asset, unitOfAccount);
    }

    function _currentOwed(address account) internal view returns (uint256) {
        UserDebt memory d = debts[account];
        if (d.owed == 0) return 0;
        return d.owed * accumulator / d.accumulator;
    }

    function _toAssetsUp(uint256 owedExact) internal pure returns (uint256) {
        if (owedExact == 0) return 0;
        return (owedExact + (1 << SHIFT) - 1) >> SHIFT;
    }

    function _transferBorrow(address from, address to, uint256 assets) internal {
        uint256 amount = assets << SHIFT;
        uint256 fromOwed = _currentOwed(from);
        // a rounded-up amount or dust left behind moves the exact debt (shared/BorrowUtils.sol transferBorrow)
        if ((amount > fromOwed && amount - fromOwed < (1 << SHIFT))
                || (amount < fromOwed && fromOwed - amount < (1 << SHIFT))) {
            amount = fromOwed;
        }
        if (amount > fromOwed) revert E_InsufficientDebt();
        debts[from] = UserDebt(fromOwed - amount, accumulator);
        debts[to] = UserDebt(_currentOwed(to) + amount, accumulator);
        emit Repay(from, assets);
        emit Borrow(to, assets);
    }

    function _spendAllowance(address owner, address spender, uint256 amount) internal {
        if (owner == spender) return;
        uint256 allowed = allowance[owner][spender];
        if (allowed == type(uint256).max) return;
        if (allowed < amount) revert E_InsufficientAllowance();
        allowance[owner][spender] = allowed - amount;
    }

    function _moveShares(address from, address to, uint256 amount) internal {
        if (balanceOf[from] < amount) revert E_InsufficientBalance();
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
        emit Transfer(from, to, amount);
    }
}
