// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// The debt engine for the devnet: only what Dog.bark calls, Vow.fess (makerdao/dss src/vow.sol: queue the bad
/// debt a liquidation takes on, sin[now] += tab and Sin += tab; wards only). Auctions of surplus and debt are
/// left out.
contract Vow {
    mapping(address => uint256) public wards;
    mapping(uint256 => uint256) public sin;  // [rad]
    uint256 public Sin;                       // [rad]

    modifier auth() {
        require(wards[msg.sender] == 1, "Vow/not-authorized");
        _;
    }

    constructor() {
        wards[msg.sender] = 1;
    }

    function rely(address usr) external auth { wards[usr] = 1; }
    function deny(address usr) external auth { wards[usr] = 0; }

    function fess(uint256 tab) external auth {
        sin[block.timestamp] += tab;
        Sin += tab;
    }
}
