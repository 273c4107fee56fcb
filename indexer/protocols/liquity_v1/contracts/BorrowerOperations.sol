// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./LiquityDevBase.sol";

/// Liquity v1's BorrowerOperations for the devnet: open, adjust and close a trove with the same external
/// functions, events and checks as liquity/dev packages/contracts/contracts/BorrowerOperations.sol (v1.0),
/// written for this devnet. A trove's recorded debt is the LUSD drawn + the borrowing fee + the 200 LUSD gas
/// compensation; the fee is the 0.5 % floor in normal mode (the base rate stays 0: this devnet has no
/// redemptions) and nothing in recovery mode. The hints are taken and ignored (there is no sorted list).
contract BorrowerOperations is LiquityDevBase {
    string public constant NAME = "BorrowerOperations";

    IDevTroveManager public troveManager;
    IDevLUSDToken public lusdToken;
    address public stabilityPoolAddress;
    address public lqtyStakingAddress; // receives the borrowing fees
    address internal gasPoolAddress; // holds the gas compensation: the TroveManager on this devnet

    enum BorrowerOperation {
        openTrove,
        closeTrove,
        adjustTrove
    }

    struct Adjustment {
        uint256 price;
        bool recovery;
        uint256 collChange;
        bool isCollIncrease;
        uint256 netDebtChange;
        uint256 fee;
        uint256 debt;
        uint256 coll;
        uint256 newColl;
        uint256 newDebt;
        uint256 stake;
    }

    event TroveCreated(address indexed _borrower, uint256 arrayIndex);
    event TroveUpdated(address indexed _borrower, uint256 _debt, uint256 _coll, uint256 stake,
                       BorrowerOperation operation);
    event LUSDBorrowingFeePaid(address indexed _borrower, uint256 _LUSDFee);

    function setAddresses(address troveManager_, address activePool_, address defaultPool_, address stabilityPool_,
                          address priceFeed_, address lusdToken_, address feeRecipient) external onlyOwner {
        troveManager = IDevTroveManager(troveManager_);
        activePool = IDevActivePool(activePool_);
        defaultPool = IDevDefaultPool(defaultPool_);
        stabilityPoolAddress = stabilityPool_;
        priceFeed = IDevPriceFeed(priceFeed_);
        lusdToken = IDevLUSDToken(lusdToken_);
        lqtyStakingAddress = feeRecipient;
        gasPoolAddress = troveManager_;
        _renounceOwnership();
    }

    function openTrove(uint256 _maxFeePercentage, uint256 _LUSDAmount, address, address) external payable {
        uint256 price = priceFeed.fetchPrice();
        bool recovery = _checkRecoveryMode(price);
        _requireValidMaxFeePercentage(_maxFeePercentage, recovery);
        require(troveManager.getTroveStatus(msg.sender) != 1, "BorrowerOps: Trove is active");

        uint256 fee = recovery ? 0 : _borrowingFee(_LUSDAmount, _maxFeePercentage);
        uint256 netDebt = _LUSDAmount + fee;
        require(netDebt >= MIN_NET_DEBT, "BorrowerOps: Trove's net debt must be greater than minimum");
        uint256 compositeDebt = netDebt + LUSD_GAS_COMPENSATION;
        uint256 icr = _computeCR(msg.value, compositeDebt, price);
        if (recovery) {
            require(icr >= CCR, "BorrowerOps: Operation must leave trove with ICR >= CCR");
        } else {
            require(icr >= MCR, "BorrowerOps: An operation that would result in ICR < MCR is not permitted");
            uint256 newTCR = _computeCR(getEntireSystemColl() + msg.value, getEntireSystemDebt() + compositeDebt, price);
            require(newTCR >= CCR, "BorrowerOps: An operation that would result in TCR < CCR is not permitted");
        }

        troveManager.setTroveStatus(msg.sender, 1);
        troveManager.increaseTroveColl(msg.sender, msg.value);
        troveManager.increaseTroveDebt(msg.sender, compositeDebt);
        troveManager.updateTroveRewardSnapshots(msg.sender);
        uint256 stake = troveManager.updateStakeAndTotalStakes(msg.sender);
        emit TroveCreated(msg.sender, troveManager.addTroveOwnerToArray(msg.sender));

        _sendToActivePool(msg.value);
        activePool.increaseLUSDDebt(netDebt);
        lusdToken.mint(msg.sender, _LUSDAmount);
        if (fee > 0) {
            lusdToken.mint(lqtyStakingAddress, fee);
        }
        activePool.increaseLUSDDebt(LUSD_GAS_COMPENSATION);
        lusdToken.mint(gasPoolAddress, LUSD_GAS_COMPENSATION);

        emit TroveUpdated(msg.sender, compositeDebt, msg.value, stake, BorrowerOperation.openTrove);
        emit LUSDBorrowingFeePaid(msg.sender, fee);
    }

    function addColl(address, address) external payable {
        _adjustTrove(msg.sender, 0, 0, false, 0);
    }

    function withdrawColl(uint256 _collWithdrawal, address, address) external {
        _adjustTrove(msg.sender, _collWithdrawal, 0, false, 0);
    }

    function withdrawLUSD(uint256 _maxFeePercentage, uint256 _LUSDAmount, address, address) external {
        _adjustTrove(msg.sender, 0, _LUSDAmount, true, _maxFeePercentage);
    }

    function repayLUSD(uint256 _LUSDAmount, address, address) external {
        _adjustTrove(msg.sender, 0, _LUSDAmount, false, 0);
    }

    function adjustTrove(uint256 _maxFeePercentage, uint256 _collWithdrawal, uint256 _LUSDChange, bool _isDebtIncrease,
                         address, address) external payable {
        _adjustTrove(msg.sender, _collWithdrawal, _LUSDChange, _isDebtIncrease, _maxFeePercentage);
    }

    function _adjustTrove(address borrower, uint256 collWithdrawal, uint256 lusdChange, bool isDebtIncrease,
                          uint256 maxFeePercentage) internal {
        Adjustment memory a;
        a.price = priceFeed.fetchPrice();
        a.recovery = _checkRecoveryMode(a.price);
        if (isDebtIncrease) {
            _requireValidMaxFeePercentage(maxFeePercentage, a.recovery);
            require(lusdChange > 0, "BorrowerOps: Debt increase requires non-zero debtChange");
        }
        require(msg.value == 0 || collWithdrawal == 0, "BorrowerOperations: Cannot withdraw and add coll");
        require(msg.value != 0 || collWithdrawal != 0 || lusdChange != 0,
                "BorrowerOps: There must be either a collateral change or a debt change");
        require(troveManager.getTroveStatus(borrower) == 1, "BorrowerOps: Trove does not exist or is closed");

        troveManager.applyPendingRewards(borrower);
        (a.collChange, a.isCollIncrease) = msg.value != 0 ? (msg.value, true) : (collWithdrawal, false);
        a.netDebtChange = lusdChange;
        if (isDebtIncrease && !a.recovery) {
            a.fee = _borrowingFee(lusdChange, maxFeePercentage);
            a.netDebtChange += a.fee;
        }
        a.debt = troveManager.getTroveDebt(borrower);
        a.coll = troveManager.getTroveColl(borrower);
        require(collWithdrawal <= a.coll, "BorrowerOps: cannot withdraw more than the collateral");
        a.newColl = a.isCollIncrease ? a.coll + a.collChange : a.coll - a.collChange;
        a.newDebt = isDebtIncrease ? a.debt + a.netDebtChange : a.debt - a.netDebtChange;
        uint256 newICR = _computeCR(a.newColl, a.newDebt, a.price);
        if (a.recovery) {
            require(collWithdrawal == 0, "BorrowerOps: Collateral withdrawal not permitted Recovery Mode");
            if (isDebtIncrease) {
                require(newICR >= CCR, "BorrowerOps: Operation must leave trove with ICR >= CCR");
                require(newICR >= _computeCR(a.coll, a.debt, a.price),
                        "BorrowerOps: Cannot decrease your Trove's ICR in Recovery Mode");
            }
        } else {
            require(newICR >= MCR, "BorrowerOps: An operation that would result in ICR < MCR is not permitted");
            uint256 systemColl = a.isCollIncrease ? getEntireSystemColl() + a.collChange
                                                  : getEntireSystemColl() - a.collChange;
            uint256 systemDebt = isDebtIncrease ? getEntireSystemDebt() + a.netDebtChange
                                                : getEntireSystemDebt() - a.netDebtChange;
            require(_computeCR(systemColl, systemDebt, a.price) >= CCR,
                    "BorrowerOps: An operation that would result in TCR < CCR is not permitted");
        }
        if (!isDebtIncrease && lusdChange > 0) {
            require(a.debt - LUSD_GAS_COMPENSATION - a.netDebtChange >= MIN_NET_DEBT,
                    "BorrowerOps: Trove's net debt must be greater than minimum");
            require(lusdToken.balanceOf(borrower) >= a.netDebtChange,
                    "BorrowerOps: Caller doesnt have enough LUSD to make repayment");
        }

        if (a.isCollIncrease) {
            troveManager.increaseTroveColl(borrower, a.collChange);
        } else {
            troveManager.decreaseTroveColl(borrower, a.collChange);
        }
        if (isDebtIncrease) {
            troveManager.increaseTroveDebt(borrower, a.netDebtChange);
        } else {
            troveManager.decreaseTroveDebt(borrower, a.netDebtChange);
        }
        a.stake = troveManager.updateStakeAndTotalStakes(borrower);
        emit TroveUpdated(borrower, a.newDebt, a.newColl, a.stake, BorrowerOperation.adjustTrove);
        emit LUSDBorrowingFeePaid(msg.sender, a.fee);

        if (isDebtIncrease) {
            activePool.increaseLUSDDebt(a.netDebtChange);
            lusdToken.mint(borrower, lusdChange);
            if (a.fee > 0) {
                lusdToken.mint(lqtyStakingAddress, a.fee);
            }
        } else {
            activePool.decreaseLUSDDebt(lusdChange);
            lusdToken.burn(borrower, lusdChange);
        }
        if (a.isCollIncrease) {
            _sendToActivePool(a.collChange);
        } else if (a.collChange > 0) {
            activePool.sendETH(borrower, a.collChange);
        }
    }

    function closeTrove() external {
        require(troveManager.getTroveStatus(msg.sender) == 1, "BorrowerOps: Trove does not exist or is closed");
        uint256 price = priceFeed.fetchPrice();
        require(!_checkRecoveryMode(price), "BorrowerOps: Operation not permitted during Recovery Mode");
        troveManager.applyPendingRewards(msg.sender);
        uint256 coll = troveManager.getTroveColl(msg.sender);
        uint256 debt = troveManager.getTroveDebt(msg.sender);
        require(lusdToken.balanceOf(msg.sender) >= debt - LUSD_GAS_COMPENSATION,
                "BorrowerOps: Caller doesnt have enough LUSD to make repayment");
        require(_computeCR(getEntireSystemColl() - coll, getEntireSystemDebt() - debt, price) >= CCR,
                "BorrowerOps: An operation that would result in TCR < CCR is not permitted");
        troveManager.removeStake(msg.sender);
        troveManager.closeTrove(msg.sender);
        emit TroveUpdated(msg.sender, 0, 0, 0, BorrowerOperation.closeTrove);
        activePool.decreaseLUSDDebt(debt - LUSD_GAS_COMPENSATION);
        lusdToken.burn(msg.sender, debt - LUSD_GAS_COMPENSATION);
        activePool.decreaseLUSDDebt(LUSD_GAS_COMPENSATION);
        lusdToken.burn(gasPoolAddress, LUSD_GAS_COMPENSATION);
        activePool.sendETH(msg.sender, coll);
    }

    function getCompositeDebt(uint256 _debt) external pure returns (uint256) {
        return _debt + LUSD_GAS_COMPENSATION;
    }

    /// The fee at the 0.5 % floor (TroveManager.getBorrowingFee with a base rate of 0), checked against the
    /// borrower's maximum.
    function _borrowingFee(uint256 amount, uint256 maxFeePercentage) internal pure returns (uint256 fee) {
        fee = BORROWING_FEE_FLOOR * amount / DECIMAL_PRECISION;
        require(fee * DECIMAL_PRECISION / amount <= maxFeePercentage, "Fee exceeded provided maximum");
    }

    function _requireValidMaxFeePercentage(uint256 maxFeePercentage, bool recovery) internal pure {
        if (recovery) {
            require(maxFeePercentage <= DECIMAL_PRECISION, "Max fee percentage must less than or equal to 100%");
        } else {
            require(maxFeePercentage >= BORROWING_FEE_FLOOR && maxFeePercentage <= DECIMAL_PRECISION,
                    "Max fee percentage must be between 0.5% and 100%");
        }
    }

    function _sendToActivePool(uint256 amount) internal {
        (bool ok,) = address(activePool).call{value: amount}("");
        require(ok, "BorrowerOps: Sending ETH to ActivePool failed");
    }
}
