// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

interface IActionsManager {
    function open(bytes32 ilk, address usr) external returns (uint256);
    function urns(uint256) external view returns (address);
    function frob(uint256 cdp, int256 dink, int256 dart) external;
}

interface IActionsJoin {
    function gem() external view returns (address);
    function dec() external view returns (uint256);
    function join(address usr, uint256 amt) external;
}

interface IActionsGem {
    function approve(address, uint256) external returns (bool);
    function transferFrom(address, address, uint256) external returns (bool);
}

/// What a wallet runs through its DSProxy on the devnet (by delegatecall, so `address(this)` is the proxy and
/// `msg.sender` its owner), in the manner of makerdao/dss-proxy-actions DssProxyActions.openLockGemAndDraw: open a
/// cdp owned by the proxy, pull the owner's collateral, join it into the cdp's urn and frob. Unlike the real
/// actions the debt is given as normalised art and the DAI stays in the urn's Vat balance (no DaiJoin on the
/// devnet). frob(manager, cdp, dink, dart) is DssProxyActions.frob: the proxy, owner of the cdp, frobs it.
contract DevProxyActions {
    function frob(address manager, uint256 cdp, int256 dink, int256 dart) external {
        IActionsManager(manager).frob(cdp, dink, dart);
    }

    function openLockGemAndFrob(address manager, address gemJoin, bytes32 ilk, uint256 amt, uint256 art)
        external
        returns (uint256 cdp)
    {
        cdp = IActionsManager(manager).open(ilk, address(this));
        lockGemAndFrob(manager, gemJoin, cdp, amt, art);
    }

    function lockGemAndFrob(address manager, address gemJoin, uint256 cdp, uint256 amt, uint256 art) public {
        address gem = IActionsJoin(gemJoin).gem();
        require(IActionsGem(gem).transferFrom(msg.sender, address(this), amt), "DevProxyActions/transfer-failed");
        IActionsGem(gem).approve(gemJoin, amt);
        IActionsJoin(gemJoin).join(IActionsManager(manager).urns(cdp), amt);
        uint256 wad = amt * 10 ** (18 - IActionsJoin(gemJoin).dec());
        IActionsManager(manager).frob(cdp, int256(wad), int256(art));
    }
}
