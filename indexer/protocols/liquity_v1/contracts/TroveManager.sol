// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./LiquityDevBase.sol";

/// Liquity v1's TroveManager for the devnet: the same storage views, events and liquidation rules as
/// liquity/dev packages/contracts/contracts/TroveManager.sol (v1.0), written for this devnet.
///
/// Kept: troves, stakes, redistribution with its error feedback (L_ETH, L_LUSDDebt, reward snapshots),
/// getCurrentICR / getEntireDebtAndColl / getTCR / checkRecoveryMode, liquidate and batchLiquidateTroves in
/// normal and recovery mode (a recovery-mode batch tracks the system's coll and debt as it goes and falls
/// back to the normal-mode rule once the system is out of recovery mode; troves with MCR <= ICR < TCR are
/// liquidated against the Stability Pool at a capped rate of MCR when it covers their whole debt, the rest
/// of their collateral kept as surplus).
/// Left out: the sorted list (no hints; no liquidateTroves(n)), redemptions, the base rate (the borrowing fee
/// is its 0.5 % floor, which is what Liquity charges while nothing is redeemed), LQTY. The LUSD gas
/// compensation is held by this contract (Liquity's GasPool), the recovery-mode surplus too (CollSurplusPool).
contract TroveManager is LiquityDevBase {
    string public constant NAME = "TroveManager";

    address public borrowerOperationsAddress;
    IDevStabilityPool public stabilityPool;
    IDevLUSDToken public lusdToken;

    enum Status {
        nonExistent,
        active,
        closedByOwner,
        closedByLiquidation,
        closedByRedemption
    }

    struct Trove {
        uint256 debt;
        uint256 coll;
        uint256 stake;
        Status status;
        uint128 arrayIndex;
    }

    struct RewardSnapshot {
        uint256 ETH;
        uint256 LUSDDebt;
    }

    enum TroveManagerOperation {
        applyPendingRewards,
        liquidateInNormalMode,
        liquidateInRecoveryMode,
        redeemCollateral
    }

    mapping(address => Trove) public Troves;
    mapping(address => RewardSnapshot) public rewardSnapshots;
    address[] public TroveOwners;

    uint256 public totalStakes;
    uint256 public totalStakesSnapshot;
    uint256 public totalCollateralSnapshot;
    uint256 public L_ETH;
    uint256 public L_LUSDDebt;
    uint256 public lastETHError_Redistribution;
    uint256 public lastLUSDDebtError_Redistribution;

    // what a recovery-mode liquidation at the capped rate left to the borrower (CollSurplusPool.getCollateral)
    mapping(address => uint256) public surplusCollateral;

    struct Liquidated {
        uint256 entireTroveDebt;
        uint256 entireTroveColl;
        uint256 collGasCompensation;
        uint256 LUSDGasCompensation;
        uint256 debtToOffset;
        uint256 collToSendToSP;
        uint256 debtToRedistribute;
        uint256 collToRedistribute;
        uint256 collSurplus;
    }

    struct Sequence {
        uint256 remainingLUSDInStabPool;
        uint256 entireSystemDebt;
        uint256 entireSystemColl;
        bool backToNormalMode;
    }

    event Liquidation(uint256 _liquidatedDebt, uint256 _liquidatedColl, uint256 _collGasCompensation,
                      uint256 _LUSDGasCompensation);
    event TroveUpdated(address indexed _borrower, uint256 _debt, uint256 _coll, uint256 _stake,
                       TroveManagerOperation _operation);
    event TroveLiquidated(address indexed _borrower, uint256 _debt, uint256 _coll, TroveManagerOperation _operation);
    event TotalStakesUpdated(uint256 _newTotalStakes);
    event SystemSnapshotsUpdated(uint256 _totalStakesSnapshot, uint256 _totalCollateralSnapshot);
    event LTermsUpdated(uint256 _L_ETH, uint256 _L_LUSDDebt);
    event TroveSnapshotsUpdated(uint256 _L_ETH, uint256 _L_LUSDDebt);
    event TroveIndexUpdated(address _borrower, uint256 _newIndex);

    function setAddresses(address borrowerOperations, address activePool_, address defaultPool_,
                          address stabilityPool_, address priceFeed_, address lusdToken_) external onlyOwner {
        borrowerOperationsAddress = borrowerOperations;
        activePool = IDevActivePool(activePool_);
        defaultPool = IDevDefaultPool(defaultPool_);
        stabilityPool = IDevStabilityPool(stabilityPool_);
        priceFeed = IDevPriceFeed(priceFeed_);
        lusdToken = IDevLUSDToken(lusdToken_);
        _renounceOwnership();
    }

    receive() external payable {
        require(msg.sender == address(activePool), "TroveManager: ETH only from the ActivePool");
    }

    // --- views

    function getTroveOwnersCount() external view returns (uint256) {
        return TroveOwners.length;
    }

    function getTroveFromTroveOwnersArray(uint256 index) external view returns (address) {
        return TroveOwners[index];
    }

    function getTroveStatus(address borrower) external view returns (uint256) {
        return uint256(Troves[borrower].status);
    }

    function getTroveStake(address borrower) external view returns (uint256) {
        return Troves[borrower].stake;
    }

    function getTroveDebt(address borrower) external view returns (uint256) {
        return Troves[borrower].debt;
    }

    function getTroveColl(address borrower) external view returns (uint256) {
        return Troves[borrower].coll;
    }

    function getPendingETHReward(address borrower) public view returns (uint256) {
        return _pending(borrower, L_ETH, rewardSnapshots[borrower].ETH);
    }

    function getPendingLUSDDebtReward(address borrower) public view returns (uint256) {
        return _pending(borrower, L_LUSDDebt, rewardSnapshots[borrower].LUSDDebt);
    }

    function _pending(address borrower, uint256 sum, uint256 snapshot) internal view returns (uint256) {
        uint256 perUnitStaked = sum - snapshot;
        if (perUnitStaked == 0 || Troves[borrower].status != Status.active) {
            return 0;
        }
        return Troves[borrower].stake * perUnitStaked / DECIMAL_PRECISION;
    }

    function hasPendingRewards(address borrower) public view returns (bool) {
        return Troves[borrower].status == Status.active && rewardSnapshots[borrower].ETH < L_ETH;
    }

    function getEntireDebtAndColl(address borrower)
        public view returns (uint256 debt, uint256 coll, uint256 pendingLUSDDebtReward, uint256 pendingETHReward)
    {
        pendingLUSDDebtReward = getPendingLUSDDebtReward(borrower);
        pendingETHReward = getPendingETHReward(borrower);
        debt = Troves[borrower].debt + pendingLUSDDebtReward;
        coll = Troves[borrower].coll + pendingETHReward;
    }

    function getCurrentICR(address borrower, uint256 price) public view returns (uint256) {
        (uint256 debt, uint256 coll,,) = getEntireDebtAndColl(borrower);
        return _computeCR(coll, debt, price);
    }

    function getNominalICR(address borrower) external view returns (uint256) {
        (uint256 debt, uint256 coll,,) = getEntireDebtAndColl(borrower);
        return _computeNominalCR(coll, debt);
    }

    function getTCR(uint256 price) external view returns (uint256) {
        return _getTCR(price);
    }

    function checkRecoveryMode(uint256 price) external view returns (bool) {
        return _checkRecoveryMode(price);
    }

    // --- liquidation

    function liquidate(address borrower) external {
        require(Troves[borrower].status == Status.active, "TroveManager: Trove does not exist or is closed");
        address[] memory one = new address[](1);
        one[0] = borrower;
        batchLiquidateTroves(one);
    }

    function batchLiquidateTroves(address[] memory troves) public {
        require(troves.length != 0, "TroveManager: Calldata address array must not be empty");
        uint256 price = priceFeed.fetchPrice();
        uint256 inPool = stabilityPool.getTotalLUSDDeposits();
        Liquidated memory totals = _checkRecoveryMode(price)
            ? _recoveryModeSequence(price, inPool, troves)
            : _normalModeSequence(price, inPool, troves);
        require(totals.entireTroveDebt > 0, "TroveManager: nothing to liquidate");

        stabilityPool.offset(totals.debtToOffset, totals.collToSendToSP);
        _redistributeDebtAndColl(totals.debtToRedistribute, totals.collToRedistribute);
        if (totals.collSurplus > 0) {
            activePool.sendETH(address(this), totals.collSurplus);
        }
        totalStakesSnapshot = totalStakes;
        totalCollateralSnapshot = activePool.getETH() - totals.collGasCompensation + defaultPool.getETH();
        emit SystemSnapshotsUpdated(totalStakesSnapshot, totalCollateralSnapshot);

        emit Liquidation(totals.entireTroveDebt,
                         totals.entireTroveColl - totals.collGasCompensation - totals.collSurplus,
                         totals.collGasCompensation, totals.LUSDGasCompensation);
        if (totals.LUSDGasCompensation > 0) {
            lusdToken.returnFromPool(address(this), msg.sender, totals.LUSDGasCompensation);
        }
        if (totals.collGasCompensation > 0) {
            activePool.sendETH(msg.sender, totals.collGasCompensation);
        }
    }

    function _normalModeSequence(uint256 price, uint256 inPool, address[] memory troves)
        internal returns (Liquidated memory totals)
    {
        uint256 remaining = inPool;
        for (uint256 i = 0; i < troves.length; i++) {
            if (getCurrentICR(troves[i], price) < MCR) {
                Liquidated memory one = _liquidateNormalMode(troves[i], remaining);
                remaining -= one.debtToOffset;
                _add(totals, one);
            }
        }
    }

    function _recoveryModeSequence(uint256 price, uint256 inPool, address[] memory troves)
        internal returns (Liquidated memory totals)
    {
        Sequence memory s = Sequence(inPool, getEntireSystemDebt(), getEntireSystemColl(), false);
        for (uint256 i = 0; i < troves.length; i++) {
            address user = troves[i];
            if (Troves[user].status != Status.active) {
                continue;
            }
            uint256 icr = getCurrentICR(user, price);
            if (!s.backToNormalMode) {
                if (icr >= MCR && s.remainingLUSDInStabPool == 0) {
                    continue;
                }
                uint256 tcr = _computeCR(s.entireSystemColl, s.entireSystemDebt, price);
                Liquidated memory one = _liquidateRecoveryMode(user, icr, s.remainingLUSDInStabPool, tcr, price);
                s.remainingLUSDInStabPool -= one.debtToOffset;
                s.entireSystemDebt -= one.debtToOffset;
                s.entireSystemColl -= one.collToSendToSP + one.collGasCompensation + one.collSurplus;
                _add(totals, one);
                s.backToNormalMode = _computeCR(s.entireSystemColl, s.entireSystemDebt, price) >= CCR;
            } else if (icr < MCR) {
                Liquidated memory one = _liquidateNormalMode(user, s.remainingLUSDInStabPool);
                s.remainingLUSDInStabPool -= one.debtToOffset;
                _add(totals, one);
            }
        }
    }

    function _liquidateNormalMode(address borrower, uint256 inPool) internal returns (Liquidated memory v) {
        uint256 pendingDebt;
        uint256 pendingColl;
        (v.entireTroveDebt, v.entireTroveColl, pendingDebt, pendingColl) = getEntireDebtAndColl(borrower);
        _movePendingTroveRewardsToActivePool(pendingDebt, pendingColl);
        _removeStake(borrower);
        v.collGasCompensation = _getCollGasCompensation(v.entireTroveColl);
        v.LUSDGasCompensation = LUSD_GAS_COMPENSATION;
        _offsetAndRedistribute(v, v.entireTroveColl - v.collGasCompensation, inPool);
        _closeTrove(borrower, Status.closedByLiquidation);
        emit TroveLiquidated(borrower, v.entireTroveDebt, v.entireTroveColl, TroveManagerOperation.liquidateInNormalMode);
        emit TroveUpdated(borrower, 0, 0, 0, TroveManagerOperation.liquidateInNormalMode);
    }

    function _liquidateRecoveryMode(address borrower, uint256 icr, uint256 inPool, uint256 tcr, uint256 price)
        internal returns (Liquidated memory v)
    {
        if (TroveOwners.length <= 1) {
            return v; // never the last trove
        }
        uint256 pendingDebt;
        uint256 pendingColl;
        (v.entireTroveDebt, v.entireTroveColl, pendingDebt, pendingColl) = getEntireDebtAndColl(borrower);
        v.collGasCompensation = _getCollGasCompensation(v.entireTroveColl);
        v.LUSDGasCompensation = LUSD_GAS_COMPENSATION;
        uint256 collToLiquidate = v.entireTroveColl - v.collGasCompensation;
        if (icr <= _100pct) {
            // underwater: all of it is redistributed
            _movePendingTroveRewardsToActivePool(pendingDebt, pendingColl);
            _removeStake(borrower);
            v.debtToRedistribute = v.entireTroveDebt;
            v.collToRedistribute = collToLiquidate;
        } else if (icr < MCR) {
            _movePendingTroveRewardsToActivePool(pendingDebt, pendingColl);
            _removeStake(borrower);
            _offsetAndRedistribute(v, collToLiquidate, inPool);
        } else if (icr < tcr && v.entireTroveDebt <= inPool) {
            // MCR <= ICR < TCR: only against a Stability Pool that takes the whole debt, collateral capped at MCR
            _movePendingTroveRewardsToActivePool(pendingDebt, pendingColl);
            _removeStake(borrower);
            uint256 capped = v.entireTroveDebt * MCR / price;
            v.collGasCompensation = _getCollGasCompensation(capped);
            v.debtToOffset = v.entireTroveDebt;
            v.collToSendToSP = capped - v.collGasCompensation;
            v.collSurplus = v.entireTroveColl - capped;
            _closeTrove(borrower, Status.closedByLiquidation);
            if (v.collSurplus > 0) {
                surplusCollateral[borrower] += v.collSurplus;
            }
            emit TroveLiquidated(borrower, v.entireTroveDebt, v.collToSendToSP,
                                 TroveManagerOperation.liquidateInRecoveryMode);
            emit TroveUpdated(borrower, 0, 0, 0, TroveManagerOperation.liquidateInRecoveryMode);
            return v;
        } else {
            Liquidated memory nothing;
            return nothing;
        }
        _closeTrove(borrower, Status.closedByLiquidation);
        emit TroveLiquidated(borrower, v.entireTroveDebt, v.entireTroveColl,
                             TroveManagerOperation.liquidateInRecoveryMode);
        emit TroveUpdated(borrower, 0, 0, 0, TroveManagerOperation.liquidateInRecoveryMode);
    }

    /// As much of the debt as the pool holds is offset (with the same share of the collateral), the rest
    /// redistributed to the active troves.
    function _offsetAndRedistribute(Liquidated memory v, uint256 coll, uint256 inPool) internal pure {
        if (inPool > 0) {
            v.debtToOffset = _min(v.entireTroveDebt, inPool);
            v.collToSendToSP = coll * v.debtToOffset / v.entireTroveDebt;
            v.debtToRedistribute = v.entireTroveDebt - v.debtToOffset;
            v.collToRedistribute = coll - v.collToSendToSP;
        } else {
            v.debtToRedistribute = v.entireTroveDebt;
            v.collToRedistribute = coll;
        }
    }

    function _add(Liquidated memory totals, Liquidated memory one) internal pure {
        totals.entireTroveDebt += one.entireTroveDebt;
        totals.entireTroveColl += one.entireTroveColl;
        totals.collGasCompensation += one.collGasCompensation;
        totals.LUSDGasCompensation += one.LUSDGasCompensation;
        totals.debtToOffset += one.debtToOffset;
        totals.collToSendToSP += one.collToSendToSP;
        totals.debtToRedistribute += one.debtToRedistribute;
        totals.collToRedistribute += one.collToRedistribute;
        totals.collSurplus += one.collSurplus;
    }

    function _redistributeDebtAndColl(uint256 debt, uint256 coll) internal {
        if (debt == 0) {
            return;
        }
        // per unit staked, carrying each division's remainder into the next redistribution
        uint256 collNumerator = coll * DECIMAL_PRECISION + lastETHError_Redistribution;
        uint256 debtNumerator = debt * DECIMAL_PRECISION + lastLUSDDebtError_Redistribution;
        uint256 collPerStake = collNumerator / totalStakes;
        uint256 debtPerStake = debtNumerator / totalStakes;
        lastETHError_Redistribution = collNumerator - collPerStake * totalStakes;
        lastLUSDDebtError_Redistribution = debtNumerator - debtPerStake * totalStakes;
        L_ETH += collPerStake;
        L_LUSDDebt += debtPerStake;
        emit LTermsUpdated(L_ETH, L_LUSDDebt);
        activePool.decreaseLUSDDebt(debt);
        defaultPool.increaseLUSDDebt(debt);
        activePool.sendETH(address(defaultPool), coll);
    }

    function _movePendingTroveRewardsToActivePool(uint256 debt, uint256 coll) internal {
        defaultPool.decreaseLUSDDebt(debt);
        activePool.increaseLUSDDebt(debt);
        defaultPool.sendETHToActivePool(coll);
    }

    // --- called by BorrowerOperations

    modifier onlyBorrowerOperations() {
        require(msg.sender == borrowerOperationsAddress, "TroveManager: Caller is not the BorrowerOperations contract");
        _;
    }

    function applyPendingRewards(address borrower) external onlyBorrowerOperations {
        if (!hasPendingRewards(borrower)) {
            return;
        }
        uint256 coll = getPendingETHReward(borrower);
        uint256 debt = getPendingLUSDDebtReward(borrower);
        Trove storage t = Troves[borrower];
        t.coll += coll;
        t.debt += debt;
        _updateTroveRewardSnapshots(borrower);
        _movePendingTroveRewardsToActivePool(debt, coll);
        emit TroveUpdated(borrower, t.debt, t.coll, t.stake, TroveManagerOperation.applyPendingRewards);
    }

    function updateTroveRewardSnapshots(address borrower) external onlyBorrowerOperations {
        _updateTroveRewardSnapshots(borrower);
    }

    function _updateTroveRewardSnapshots(address borrower) internal {
        rewardSnapshots[borrower] = RewardSnapshot(L_ETH, L_LUSDDebt);
        emit TroveSnapshotsUpdated(L_ETH, L_LUSDDebt);
    }

    function updateStakeAndTotalStakes(address borrower) external onlyBorrowerOperations returns (uint256) {
        uint256 coll = Troves[borrower].coll;
        // the stake is the collateral scaled by the totals snapshotted at the last liquidation
        uint256 stake = totalCollateralSnapshot == 0 ? coll : coll * totalStakesSnapshot / totalCollateralSnapshot;
        totalStakes = totalStakes - Troves[borrower].stake + stake;
        Troves[borrower].stake = stake;
        emit TotalStakesUpdated(totalStakes);
        return stake;
    }

    function removeStake(address borrower) external onlyBorrowerOperations {
        _removeStake(borrower);
    }

    function _removeStake(address borrower) internal {
        totalStakes -= Troves[borrower].stake;
        Troves[borrower].stake = 0;
    }

    function closeTrove(address borrower) external onlyBorrowerOperations {
        _closeTrove(borrower, Status.closedByOwner);
    }

    function _closeTrove(address borrower, Status closed) internal {
        uint256 length = TroveOwners.length;
        require(length > 1, "TroveManager: Only one trove in the system");
        Trove storage t = Troves[borrower];
        t.status = closed;
        t.coll = 0;
        t.debt = 0;
        delete rewardSnapshots[borrower];
        uint128 index = t.arrayIndex;
        address moved = TroveOwners[length - 1];
        TroveOwners[index] = moved;
        Troves[moved].arrayIndex = index;
        emit TroveIndexUpdated(moved, index);
        TroveOwners.pop();
    }

    function addTroveOwnerToArray(address borrower) external onlyBorrowerOperations returns (uint256) {
        TroveOwners.push(borrower);
        uint128 index = uint128(TroveOwners.length - 1);
        Troves[borrower].arrayIndex = index;
        return index;
    }

    function setTroveStatus(address borrower, uint256 status) external onlyBorrowerOperations {
        Troves[borrower].status = Status(status);
    }

    function increaseTroveColl(address borrower, uint256 amount) external onlyBorrowerOperations returns (uint256) {
        return Troves[borrower].coll += amount;
    }

    function decreaseTroveColl(address borrower, uint256 amount) external onlyBorrowerOperations returns (uint256) {
        return Troves[borrower].coll -= amount;
    }

    function increaseTroveDebt(address borrower, uint256 amount) external onlyBorrowerOperations returns (uint256) {
        return Troves[borrower].debt += amount;
    }

    function decreaseTroveDebt(address borrower, uint256 amount) external onlyBorrowerOperations returns (uint256) {
        return Troves[borrower].debt -= amount;
    }
}
