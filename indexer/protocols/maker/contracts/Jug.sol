// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

interface IJugVat {
    function ilks(bytes32) external view returns (uint256 Art, uint256 rate, uint256 spot, uint256 line, uint256 dust);
    function fold(bytes32 i, address u, int256 rate) external;
}

/// The stability-fee accumulator for the devnet, written for this project behind the external ABI of
/// makerdao/dss src/jug.sol.
///
/// drip(ilk) is the only thing that moves the Vat's stored rate: rate = rmul(rpow(base + duty, now - rho, ONE),
/// prev), rmul floored, rpow by squaring with every product rounded half up (`(x * y + ONE / 2) / ONE`), then
/// Vat.fold by the difference and rho = now. duty and base are per-second [ray]; rho a unix time.
contract Jug {
    mapping(address => uint256) public wards;

    struct Ilk {
        uint256 duty;  // per-second stability fee [ray]
        uint256 rho;   // time of the last drip
    }

    mapping(bytes32 => Ilk) public ilks;
    address public vat;
    address public vow;
    uint256 public base;  // global per-second stability fee [ray]

    uint256 constant ONE = 10 ** 27;

    modifier auth() {
        require(wards[msg.sender] == 1, "Jug/not-authorized");
        _;
    }

    constructor(address vat_) {
        wards[msg.sender] = 1;
        vat = vat_;
    }

    function rely(address usr) external auth { wards[usr] = 1; }
    function deny(address usr) external auth { wards[usr] = 0; }

    /// x**n in base b, squaring, each product rounded half up; 0**0 = b (jug.sol's rpow, in plain Solidity).
    function _rpow(uint256 x, uint256 n, uint256 b) internal pure returns (uint256 z) {
        if (x == 0) return n == 0 ? b : 0;
        z = n % 2 == 0 ? b : x;
        uint256 half = b / 2;
        for (n /= 2; n != 0; n /= 2) {
            x = (x * x + half) / b;
            if (n % 2 == 1) {
                z = (z * x + half) / b;
            }
        }
    }

    function init(bytes32 ilk) external auth {
        Ilk storage i = ilks[ilk];
        require(i.duty == 0, "Jug/ilk-already-init");
        i.duty = ONE;
        i.rho = block.timestamp;
    }

    function file(bytes32 ilk, bytes32 what, uint256 data) external auth {
        require(block.timestamp == ilks[ilk].rho, "Jug/rho-not-updated");
        if (what == "duty") ilks[ilk].duty = data;
        else revert("Jug/file-unrecognized-param");
    }

    function file(bytes32 what, uint256 data) external auth {
        if (what == "base") base = data;
        else revert("Jug/file-unrecognized-param");
    }

    function file(bytes32 what, address data) external auth {
        if (what == "vow") vow = data;
        else revert("Jug/file-unrecognized-param");
    }

    function drip(bytes32 ilk) external returns (uint256 rate) {
        require(block.timestamp >= ilks[ilk].rho, "Jug/invalid-now");
        (, uint256 prev,,,) = IJugVat(vat).ilks(ilk);
        rate = _rpow(base + ilks[ilk].duty, block.timestamp - ilks[ilk].rho, ONE) * prev / ONE;
        IJugVat(vat).fold(ilk, vow, int256(rate) - int256(prev));
        ilks[ilk].rho = block.timestamp;
    }
}
