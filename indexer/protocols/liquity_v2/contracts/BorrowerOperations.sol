// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./LiquityV2DevBase.sol";

/// A Liquity v2 branch's BorrowerOperations for the devnet (liquity/bold contracts/src/BorrowerOperations.sol),
/// with its real `openTrove` signature and trove id (`keccak256(abi.encode(msg.sender, _owner, _ownerIndex))`),
/// `addColl`, `repayBold`, the public CCR / SCR / MCR / BCR, `hasBeenShutDown`, and both ways a branch shuts down:
/// `shutdown()` by anyone while the TCR is under SCR, `shutdownFromOracleFailure()` by the branch's PriceFeed. Opening checks
/// what matters to the devnet: the branch live and its oracles answering, the rate within
/// [MIN_ANNUAL_INTEREST_RATE, MAX_ANNUAL_INTEREST_RATE], debt >= MIN_DEBT, ICR >= MCR, and the TCR after the
/// opening >= CCR. Left out: the upfront fee (the debt is what is drawn), the ETH gas compensation, hints, add /
/// remove managers and interest delegates (only the owner adds collateral or repays), batches, every other
/// adjustment.
contract BorrowerOperations {
    IDevERC20 internal immutable collToken;
    IDevERC20 internal immutable boldToken;
    IDevTroveManager internal immutable troveManager;
    IDevTroveNFT internal immutable troveNFT;
    IDevActivePool internal immutable activePool;
    address internal immutable priceFeed;

    uint256 public immutable CCR;
    uint256 public immutable SCR;
    bool public hasBeenShutDown;
    uint256 public immutable MCR;
    uint256 public immutable BCR;

    error IsShutDown();
    error TCRNotBelowSCR();
    error NewOracleFailureDetected();
    error TroveExists();
    error TroveNotOpen();
    error InterestRateTooLow();
    error InterestRateTooHigh();
    error DebtBelowMin();
    error ICRBelowMCR();
    error TCRBelowCCR();
    error NotOwner();
    error CallerNotPriceFeed();

    event ShutDown(uint256 _tcr);
    event ShutDownFromOracleFailure();

    constructor(IDevAddressesRegistry registry) {
        collToken = IDevERC20(registry.collToken());
        boldToken = IDevERC20(registry.boldToken());
        troveManager = IDevTroveManager(registry.troveManager());
        troveNFT = IDevTroveNFT(registry.troveNFT());
        activePool = IDevActivePool(registry.activePool());
        priceFeed = registry.priceFeed();
        CCR = registry.CCR();
        SCR = registry.SCR();
        MCR = registry.MCR();
        BCR = registry.BCR();
    }

    function openTrove(
        address _owner,
        uint256 _ownerIndex,
        uint256 _collAmount,
        uint256 _boldAmount,
        uint256, /* _upperHint */
        uint256, /* _lowerHint */
        uint256 _annualInterestRate,
        uint256, /* _maxUpfrontFee */
        address, /* _addManager */
        address, /* _removeManager */
        address /* _receiver */
    ) external returns (uint256) {
        return _openTrove(_owner, _ownerIndex, _collAmount, _boldAmount, _annualInterestRate);
    }

    function _openTrove(address owner, uint256 ownerIndex, uint256 coll, uint256 debt, uint256 rate)
        internal
        returns (uint256 troveId)
    {
        if (hasBeenShutDown) revert IsShutDown();
        uint256 price = _priceWhileLive();
        troveId = uint256(keccak256(abi.encode(msg.sender, owner, ownerIndex)));
        if (troveManager.getTroveStatus(troveId) != 0) revert TroveExists();
        if (rate < MIN_ANNUAL_INTEREST_RATE) revert InterestRateTooLow();
        if (rate > MAX_ANNUAL_INTEREST_RATE) revert InterestRateTooHigh();
        if (debt < MIN_DEBT) revert DebtBelowMin();
        if (computeCR(coll, debt, price) < MCR) revert ICRBelowMCR();
        uint256 newTCR =
            computeCR(troveManager.getEntireBranchColl() + coll, troveManager.getEntireBranchDebt() + debt, price);
        if (newTCR < CCR) revert TCRBelowCCR();

        activePool.mintAggInterestAndAccountForTroveChange(debt, 0, 0, debt * rate, 0);
        troveManager.onOpenTrove(owner, troveId, coll, debt, rate);
        require(collToken.transferFrom(msg.sender, address(activePool), coll), "BorrowerOps: coll");
        activePool.accountForReceivedColl(coll);
        boldToken.mint(msg.sender, debt);
    }

    /// Adds collateral; applies the trove's accrued interest and redistribution gains to its recorded figures.
    function addColl(uint256 _troveId, uint256 _collAmount) external {
        _adjustTrove(_troveId, _collAmount, 0);
        require(collToken.transferFrom(msg.sender, address(activePool), _collAmount), "BorrowerOps: coll");
        activePool.accountForReceivedColl(_collAmount);
    }

    /// repayBold (BorrowerOperations.sol ``repayBold`` → ``_adjustTrove``): the trove's debt falls by the BOLD
    /// repaid, capped so that MIN_DEBT remains (``maxRepayment``); no fee. The devnet's BOLD has no burn: what is
    /// repaid is taken out of circulation into this contract instead.
    function repayBold(uint256 _troveId, uint256 _boldAmount) external {
        uint256 repaid = _adjustTrove(_troveId, 0, _boldAmount);
        require(boldToken.transferFrom(msg.sender, address(this), repaid), "BorrowerOps: bold");
    }

    /// The owner's adjustment of an open trove on a live branch (``_adjustTrove``): its interest to this second and
    /// its redistribution gains applied, then ``collIncrease`` added and ``debtDecrease`` (capped at what keeps
    /// MIN_DEBT) repaid; returns what is repaid.
    function _adjustTrove(uint256 _troveId, uint256 collIncrease, uint256 debtDecrease) internal returns (uint256) {
        if (hasBeenShutDown) revert IsShutDown();
        _priceWhileLive();
        if (troveManager.getTroveStatus(_troveId) != 1) revert TroveNotOpen();
        if (troveNFT.ownerOf(_troveId) != msg.sender) revert NotOwner();
        LatestTroveData memory trove = troveManager.getLatestTroveData(_troveId);
        uint256 maxRepayment = trove.entireDebt > MIN_DEBT ? trove.entireDebt - MIN_DEBT : 0;
        uint256 repaid = debtDecrease > maxRepayment ? maxRepayment : debtDecrease;
        uint256 newDebt = trove.entireDebt - repaid;
        activePool.mintAggInterestAndAccountForTroveChange(
            0, repaid, trove.redistBoldDebtGain, newDebt * trove.annualInterestRate, trove.weightedRecordedDebt
        );
        troveManager.onAdjustTrove(
            _troveId, trove.entireColl + collIncrease, newDebt, trove.redistBoldDebtGain, trove.redistCollGain
        );
        return repaid;
    }

    function shutdown() external {
        if (hasBeenShutDown) revert IsShutDown();
        (uint256 price, bool failure) = IDevPriceFeed(priceFeed).fetchPrice();
        if (failure) return; // the feed shut the branch down itself
        uint256 tcr = computeCR(troveManager.getEntireBranchColl(), troveManager.getEntireBranchDebt(), price);
        if (tcr >= SCR) revert TCRNotBelowSCR();
        _applyShutdown();
        emit ShutDown(tcr);
    }

    function shutdownFromOracleFailure() external {
        if (msg.sender != priceFeed) revert CallerNotPriceFeed();
        if (hasBeenShutDown) return;
        _applyShutdown();
        emit ShutDownFromOracleFailure();
    }

    function _applyShutdown() internal {
        activePool.mintAggInterest();
        hasBeenShutDown = true;
        troveManager.shutdown();
    }

    function _priceWhileLive() internal returns (uint256 price) {
        bool failure;
        (price, failure) = IDevPriceFeed(priceFeed).fetchPrice();
        if (failure) revert NewOracleFailureDetected();
    }
}
