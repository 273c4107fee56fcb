// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./LiquityV2DevBase.sol";

/// A Liquity v2 branch's TroveManager for the devnet, behind the external views and liquidation entry point of
/// liquity/bold contracts/src/TroveManager.sol, written for this devnet:
///
/// - `Troves(id)` (the ten-field Trove record), `rewardSnapshots(id)`, `getTroveIdsCount` /
///   `getTroveFromTroveIdsArray` (every active or zombie trove; a removal moves the last id into the gap),
///   `getTroveStatus`, `shutdownTime`, `troveNFT`, `borrowerOperations`, `stabilityPool`, `activePool`, and the
///   branch totals of LiquityBase (`getEntireBranchColl` / `getEntireBranchDebt`: active + default pool);
/// - `getLatestTroveData(id)`: the recorded debt, the interest accrued to the block at the trove's own rate
///   (`_calcInterest(debt * rate, period)`, the period ending at `shutdownTime` once the branch is shut down),
///   the pending redistribution gains (`stake * (L - snapshot) / 1e18`) and their sums; `getCurrentICR(id, price)`
///   is `entireColl * price / entireDebt`;
/// - `batchLiquidateTroves(ids)`: the price from the branch's PriceFeed.fetchPrice(), every active or zombie trove
///   with ICR < MCR closed (reverting OnlyOneTroveLeft for the last one), its debt offset against the Stability
///   Pool (leaving MIN_BOLD_IN_SP there) at a collateral capped by the SP penalty, the rest redistributed to the
///   other troves by stake (L_coll / L_boldDebt with the error feedback) at a collateral capped by the
///   redistribution penalty, 0.5 % of the collateral (at most 2) to the caller; NothingToLiquidate when none was.
///
/// Left out: the sorted list (no hints), redemptions and zombies made by them, batch managers (every trove pays
/// its own rate: `interestBatchManager` is always zero), interest-rate adjustments, the upfront fee, the WETH gas
/// compensation, the CollSurplusPool (a surplus goes straight back to the trove's owner). `L_coll`, `L_boldDebt`
/// and the stake snapshots stay internal, as in Liquity.
contract TroveManager {
    enum Status {
        nonExistent,
        active,
        closedByOwner,
        closedByLiquidation,
        zombie
    }

    enum Operation {
        openTrove,
        closeTrove,
        adjustTrove,
        adjustTroveInterestRate,
        applyPendingDebt,
        liquidate,
        redeemCollateral,
        openTroveAndJoinBatch,
        setInterestBatchManager,
        removeFromBatch
    }

    struct Trove {
        uint256 debt;
        uint256 coll;
        uint256 stake;
        Status status;
        uint64 arrayIndex;
        uint64 lastDebtUpdateTime;
        uint64 lastInterestRateAdjTime;
        uint256 annualInterestRate;
        address interestBatchManager;
        uint256 batchDebtShares;
    }

    struct RewardSnapshot {
        uint256 coll;
        uint256 boldDebt;
    }

    // running sums of one batchLiquidateTroves call
    struct Totals {
        uint256 collGasCompensation;
        uint256 debtToOffset;
        uint256 collToSendToSP;
        uint256 debtToRedistribute;
        uint256 collToRedistribute;
        uint256 collSurplus;
        uint256 debtDecrease;
        uint256 appliedRedistBoldDebtGain;
        uint256 oldWeightedRecordedDebt;
    }

    address public troveNFT;
    address public borrowerOperations;
    address public stabilityPool;
    IDevActivePool public activePool;
    IDevDefaultPool internal defaultPool;
    IDevPriceFeed internal priceFeed;

    uint256 public immutable CCR;
    uint256 internal immutable MCR;
    uint256 internal immutable SCR;
    uint256 internal immutable LIQUIDATION_PENALTY_SP;
    uint256 internal immutable LIQUIDATION_PENALTY_REDISTRIBUTION;

    mapping(uint256 => Trove) public Troves;
    mapping(uint256 => RewardSnapshot) public rewardSnapshots;
    uint256[] internal TroveIds;

    uint256 internal totalStakes;
    uint256 internal totalStakesSnapshot;
    uint256 internal totalCollateralSnapshot;
    uint256 internal L_coll;
    uint256 internal L_boldDebt;
    uint256 internal lastCollError_Redistribution;
    uint256 internal lastBoldDebtError_Redistribution;

    uint256 public lastZombieTroveId;
    uint256 public shutdownTime;

    error EmptyData();
    error NothingToLiquidate();
    error CallerNotBorrowerOperations();
    error OnlyOneTroveLeft();

    event TroveUpdated(
        uint256 indexed _troveId,
        uint256 _debt,
        uint256 _coll,
        uint256 _stake,
        uint256 _annualInterestRate,
        uint256 _snapshotOfTotalCollRedist,
        uint256 _snapshotOfTotalDebtRedist
    );
    event TroveOperation(
        uint256 indexed _troveId,
        Operation _operation,
        uint256 _annualInterestRate,
        uint256 _debtIncreaseFromRedist,
        uint256 _debtIncreaseFromUpfrontFee,
        int256 _debtChangeFromOperation,
        uint256 _collIncreaseFromRedist,
        int256 _collChangeFromOperation
    );
    event Liquidation(
        uint256 _debtOffsetBySP,
        uint256 _debtRedistributed,
        uint256 _boldGasCompensation,
        uint256 _collGasCompensation,
        uint256 _collSentToSP,
        uint256 _collRedistributed,
        uint256 _collSurplus,
        uint256 _L_ETH,
        uint256 _L_boldDebt,
        uint256 _price
    );

    constructor(IDevAddressesRegistry registry) {
        CCR = registry.CCR();
        MCR = registry.MCR();
        SCR = registry.SCR();
        LIQUIDATION_PENALTY_SP = registry.LIQUIDATION_PENALTY_SP();
        LIQUIDATION_PENALTY_REDISTRIBUTION = registry.LIQUIDATION_PENALTY_REDISTRIBUTION();
        troveNFT = registry.troveNFT();
        borrowerOperations = registry.borrowerOperations();
        stabilityPool = registry.stabilityPool();
        activePool = IDevActivePool(registry.activePool());
        defaultPool = IDevDefaultPool(registry.defaultPool());
        priceFeed = IDevPriceFeed(registry.priceFeed());
    }

    modifier onlyBorrowerOperations() {
        if (msg.sender != borrowerOperations) revert CallerNotBorrowerOperations();
        _;
    }

    // ------------------------------------------------------------------ views

    function getTroveIdsCount() external view returns (uint256) {
        return TroveIds.length;
    }

    function getTroveFromTroveIdsArray(uint256 index) external view returns (uint256) {
        return TroveIds[index];
    }

    function getTroveStatus(uint256 troveId) external view returns (Status) {
        return Troves[troveId].status;
    }

    function getTroveAnnualInterestRate(uint256 troveId) external view returns (uint256) {
        return Troves[troveId].annualInterestRate;
    }

    function getEntireBranchColl() public view returns (uint256) {
        return activePool.getCollBalance() + defaultPool.getCollBalance();
    }

    function getEntireBranchDebt() public view returns (uint256) {
        return activePool.getBoldDebt() + defaultPool.getBoldDebt();
    }

    function getCurrentICR(uint256 troveId, uint256 price) public view returns (uint256) {
        LatestTroveData memory trove = _latest(troveId);
        return computeCR(trove.entireColl, trove.entireDebt, price);
    }

    function getLatestTroveData(uint256 troveId) external view returns (LatestTroveData memory) {
        return _latest(troveId);
    }

    function _latest(uint256 troveId) internal view returns (LatestTroveData memory out) {
        Trove storage trove = Troves[troveId];
        RewardSnapshot storage snapshot = rewardSnapshots[troveId];
        uint256 stake = trove.stake;
        out.redistBoldDebtGain = stake * (L_boldDebt - snapshot.boldDebt) / DECIMAL_PRECISION;
        out.redistCollGain = stake * (L_coll - snapshot.coll) / DECIMAL_PRECISION;
        out.recordedDebt = trove.debt;
        out.annualInterestRate = trove.annualInterestRate;
        out.weightedRecordedDebt = out.recordedDebt * out.annualInterestRate;
        out.accruedInterest = calcInterest(out.weightedRecordedDebt, _interestPeriod(trove.lastDebtUpdateTime));
        out.entireDebt = out.recordedDebt + out.redistBoldDebtGain + out.accruedInterest;
        out.entireColl = trove.coll + out.redistCollGain;
        out.lastInterestRateAdjTime = trove.lastInterestRateAdjTime;
    }

    /// Seconds of interest since `since`: to now while the branch is live, to the shutdown for a trove last
    /// updated before it, none for one updated after it.
    function _interestPeriod(uint256 since) internal view returns (uint256) {
        if (shutdownTime == 0) return block.timestamp - since;
        if (since < shutdownTime) return shutdownTime - since;
        return 0;
    }

    // ------------------------------------------------------------------ liquidation

    function batchLiquidateTroves(uint256[] memory troveIds) public {
        if (troveIds.length == 0) revert EmptyData();
        (uint256 price,) = priceFeed.fetchPrice();
        uint256 deposits = IDevStabilityPool(stabilityPool).getTotalBoldDeposits();
        uint256 available = deposits - minOf(MIN_BOLD_IN_SP, deposits);

        Totals memory totals;
        for (uint256 i = 0; i < troveIds.length; i++) {
            uint256 troveId = troveIds[i];
            Status status = Troves[troveId].status;
            if (status != Status.active && status != Status.zombie) continue;
            if (getCurrentICR(troveId, price) >= MCR) continue;
            available -= _liquidate(troveId, available, price, totals);
        }
        if (totals.debtDecrease == 0) revert NothingToLiquidate();

        activePool.mintAggInterestAndAccountForTroveChange(
            0, totals.debtDecrease, totals.appliedRedistBoldDebtGain, 0, totals.oldWeightedRecordedDebt
        );
        if (totals.debtToOffset > 0 || totals.collToSendToSP > 0) {
            IDevStabilityPool(stabilityPool).offset(totals.debtToOffset, totals.collToSendToSP);
        }
        _redistribute(totals.debtToRedistribute, totals.collToRedistribute);

        totalStakesSnapshot = totalStakes;
        totalCollateralSnapshot =
            activePool.getCollBalance() - totals.collGasCompensation + defaultPool.getCollBalance();

        emit Liquidation(
            totals.debtToOffset,
            totals.debtToRedistribute,
            0,
            totals.collGasCompensation,
            totals.collToSendToSP,
            totals.collToRedistribute,
            totals.collSurplus,
            L_coll,
            L_boldDebt,
            price
        );
        if (totals.collGasCompensation > 0) activePool.sendColl(msg.sender, totals.collGasCompensation);
    }

    /// Closes one trove under MCR and adds its parts to `totals`; returns the debt it offsets against the pool.
    function _liquidate(uint256 troveId, uint256 available, uint256 price, Totals memory totals)
        internal
        returns (uint256 debtToOffset)
    {
        address owner = IDevTroveNFT(troveNFT).ownerOf(troveId);
        LatestTroveData memory trove = _latest(troveId);
        _applyPendingRewards(trove.redistBoldDebtGain, trove.redistCollGain);

        uint256 gasCompensation = minOf(trove.entireColl / COLL_GAS_COMPENSATION_DIVISOR, COLL_GAS_COMPENSATION_CAP);
        uint256 collToLiquidate = trove.entireColl - gasCompensation;

        uint256 collForPool;
        uint256 collToSP;
        uint256 surplus;
        if (available > 0) {
            debtToOffset = minOf(trove.entireDebt, available);
            collForPool = collToLiquidate * debtToOffset / trove.entireDebt;
            (collToSP, surplus) = _seize(collForPool, debtToOffset, LIQUIDATION_PENALTY_SP, price);
        }
        uint256 debtToRedistribute = trove.entireDebt - debtToOffset;
        uint256 collToRedistribute;
        if (debtToRedistribute > 0 && collToLiquidate > collForPool) {
            // the surplus left by the offset can be eaten by the (larger) redistribution penalty
            (collToRedistribute, surplus) = _seize(
                collToLiquidate - collForPool + surplus, debtToRedistribute, LIQUIDATION_PENALTY_REDISTRIBUTION, price
            );
        }

        _close(troveId, Status.closedByLiquidation);

        totals.collGasCompensation += gasCompensation;
        totals.debtToOffset += debtToOffset;
        totals.collToSendToSP += collToSP;
        totals.debtToRedistribute += debtToRedistribute;
        totals.collToRedistribute += collToRedistribute;
        totals.collSurplus += surplus;
        totals.debtDecrease += trove.entireDebt;
        totals.appliedRedistBoldDebtGain += trove.redistBoldDebtGain;
        totals.oldWeightedRecordedDebt += trove.weightedRecordedDebt;
        if (surplus > 0) activePool.sendColl(owner, surplus);

        emit TroveUpdated(troveId, 0, 0, 0, 0, 0, 0);
        emit TroveOperation(
            troveId,
            Operation.liquidate,
            0,
            trove.redistBoldDebtGain,
            0,
            -int256(trove.entireDebt),
            trove.redistCollGain,
            -int256(trove.entireColl)
        );
    }

    /// The collateral taken for `debt` at `price` with a penalty (at most what there is), and what is left over.
    function _seize(uint256 coll, uint256 debt, uint256 penalty, uint256 price)
        internal
        pure
        returns (uint256 seized, uint256 surplus)
    {
        uint256 cap = debt * (DECIMAL_PRECISION + penalty) / price;
        if (coll > cap) return (cap, coll - cap);
        return (coll, 0);
    }

    /// Adds debt and collateral per unit staked to L_boldDebt / L_coll, carrying each division's remainder to the
    /// next redistribution, and moves them to the DefaultPool.
    function _redistribute(uint256 debt, uint256 coll) internal {
        if (debt == 0) return;
        uint256 collNumerator = coll * DECIMAL_PRECISION + lastCollError_Redistribution;
        uint256 debtNumerator = debt * DECIMAL_PRECISION + lastBoldDebtError_Redistribution;
        uint256 collPerStake = collNumerator / totalStakes;
        uint256 debtPerStake = debtNumerator / totalStakes;
        lastCollError_Redistribution = collNumerator - collPerStake * totalStakes;
        lastBoldDebtError_Redistribution = debtNumerator - debtPerStake * totalStakes;
        L_coll += collPerStake;
        L_boldDebt += debtPerStake;
        defaultPool.increaseBoldDebt(debt);
        activePool.sendCollToDefaultPool(coll);
    }

    function _applyPendingRewards(uint256 debt, uint256 coll) internal {
        if (debt > 0) defaultPool.decreaseBoldDebt(debt);
        if (coll > 0) defaultPool.sendCollToActivePool(coll);
    }

    function _close(uint256 troveId, Status closedStatus) internal {
        uint256 length = TroveIds.length;
        if (length == 1) revert OnlyOneTroveLeft();
        uint64 index = Troves[troveId].arrayIndex;
        uint256 moved = TroveIds[length - 1];
        TroveIds[index] = moved;
        Troves[moved].arrayIndex = index;
        TroveIds.pop();

        totalStakes -= Troves[troveId].stake;
        delete Troves[troveId];
        Troves[troveId].status = closedStatus;
        delete rewardSnapshots[troveId];
        IDevTroveNFT(troveNFT).burn(troveId);
    }

    function _newStake(uint256 coll) internal view returns (uint256) {
        if (totalCollateralSnapshot == 0) return coll;
        return coll * totalStakesSnapshot / totalCollateralSnapshot;
    }

    function _takeSnapshots(uint256 troveId) internal {
        rewardSnapshots[troveId] = RewardSnapshot(L_coll, L_boldDebt);
    }

    // ------------------------------------------------------------------ called by BorrowerOperations

    function onOpenTrove(address owner, uint256 troveId, uint256 coll, uint256 debt, uint256 rate)
        external
        onlyBorrowerOperations
    {
        uint256 stake = _newStake(coll);
        Trove storage trove = Troves[troveId];
        trove.debt = debt;
        trove.coll = coll;
        trove.stake = stake;
        trove.status = Status.active;
        trove.arrayIndex = uint64(TroveIds.length);
        trove.lastDebtUpdateTime = uint64(block.timestamp);
        trove.lastInterestRateAdjTime = uint64(block.timestamp);
        trove.annualInterestRate = rate;
        TroveIds.push(troveId);
        totalStakes += stake;
        IDevTroveNFT(troveNFT).mint(owner, troveId);
        _takeSnapshots(troveId);
        emit TroveUpdated(troveId, debt, coll, stake, rate, L_coll, L_boldDebt);
        emit TroveOperation(troveId, Operation.openTrove, rate, 0, 0, int256(debt), 0, int256(coll));
    }

    /// A trove's new coll and debt after an adjustment that applied its interest and redistribution gains.
    function onAdjustTrove(uint256 troveId, uint256 coll, uint256 debt, uint256 appliedDebt, uint256 appliedColl)
        external
        onlyBorrowerOperations
    {
        Trove storage trove = Troves[troveId];
        int256 collChange = int256(coll) - int256(trove.coll + appliedColl);
        trove.coll = coll;
        trove.debt = debt;
        trove.lastDebtUpdateTime = uint64(block.timestamp);
        _applyPendingRewards(appliedDebt, appliedColl);
        uint256 stake = _newStake(coll);
        totalStakes = totalStakes - trove.stake + stake;
        trove.stake = stake;
        _takeSnapshots(troveId);
        emit TroveUpdated(troveId, debt, coll, stake, trove.annualInterestRate, L_coll, L_boldDebt);
        emit TroveOperation(
            troveId, Operation.adjustTrove, trove.annualInterestRate, appliedDebt, 0, 0, appliedColl, collChange
        );
    }

    function shutdown() external onlyBorrowerOperations {
        shutdownTime = block.timestamp;
        activePool.setShutdownFlag();
    }
}
