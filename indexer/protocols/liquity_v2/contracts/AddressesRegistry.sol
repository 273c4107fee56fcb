// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// One collateral branch's address book and risk constants, as liquity/bold contracts/src/AddressesRegistry.sol
/// exposes them: the contracts' getters and the branch's CCR, SCR, MCR, BCR and liquidation penalties, fixed at
/// construction. Every other contract of the branch reads its peers from here in its constructor, so the registry
/// is filled (once, by its deployer) with the addresses the deployment predicts before they exist.
/// Left out: metadataNFT, gasPoolAddress, collSurplusPool, sortedTroves, interestRouter, hintHelpers,
/// multiTroveGetter and WETH (the stand-in has none of them); `setAddresses` takes plain arguments.
contract AddressesRegistry {
    address public collToken;
    address public borrowerOperations;
    address public troveManager;
    address public troveNFT;
    address public stabilityPool;
    address public priceFeed;
    address public activePool;
    address public defaultPool;
    address public boldToken;
    address public collateralRegistry;

    uint256 public immutable CCR;
    uint256 public immutable SCR;
    uint256 public immutable MCR;
    uint256 public immutable BCR;
    uint256 public immutable LIQUIDATION_PENALTY_SP;
    uint256 public immutable LIQUIDATION_PENALTY_REDISTRIBUTION;

    address private owner;

    error InvalidCCR();
    error InvalidMCR();
    error InvalidSCR();
    error AlreadySet();

    constructor(uint256 ccr, uint256 mcr, uint256 bcr, uint256 scr, uint256 penaltySP, uint256 penaltyRedist) {
        // the ranges AddressesRegistry's constructor accepts
        if (ccr <= 1e18 || ccr >= 2e18) revert InvalidCCR();
        if (mcr <= 1e18 || mcr >= 2e18) revert InvalidMCR();
        if (scr <= 1e18 || scr >= 2e18) revert InvalidSCR();
        CCR = ccr;
        MCR = mcr;
        BCR = bcr;
        SCR = scr;
        LIQUIDATION_PENALTY_SP = penaltySP;
        LIQUIDATION_PENALTY_REDISTRIBUTION = penaltyRedist;
        owner = msg.sender;
    }

    function setAddresses(
        address collToken_,
        address borrowerOperations_,
        address troveManager_,
        address troveNFT_,
        address stabilityPool_,
        address priceFeed_,
        address activePool_,
        address defaultPool_,
        address boldToken_,
        address collateralRegistry_
    ) external {
        if (msg.sender != owner) revert AlreadySet();
        collToken = collToken_;
        borrowerOperations = borrowerOperations_;
        troveManager = troveManager_;
        troveNFT = troveNFT_;
        stabilityPool = stabilityPool_;
        priceFeed = priceFeed_;
        activePool = activePool_;
        defaultPool = defaultPool_;
        boldToken = boldToken_;
        collateralRegistry = collateralRegistry_;
        owner = address(0);
    }
}
