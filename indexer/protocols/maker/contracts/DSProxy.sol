// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// A wallet's proxy for the devnet, written for this project behind the external ABI of dapphub ds-proxy
/// src/proxy.sol (DSProxy with ds-auth's owner): execute(target, data) delegatecalls target as the proxy, for its
/// owner only; the code cache of `execute(bytes, bytes)` and ds-auth's authority are left out.
contract DSProxy {
    address public owner;

    event LogSetOwner(address indexed owner);

    constructor(address owner_) {
        owner = owner_;
        emit LogSetOwner(owner_);
    }

    receive() external payable {}

    function setOwner(address owner_) external {
        require(msg.sender == owner || msg.sender == address(this), "ds-auth-unauthorized");
        owner = owner_;
        emit LogSetOwner(owner_);
    }

    function execute(address target, bytes memory data) external payable returns (bytes memory response) {
        require(msg.sender == owner || msg.sender == address(this), "ds-auth-unauthorized");
        require(target != address(0), "ds-proxy-target-address-required");
        bool ok;
        (ok, response) = target.delegatecall(data);
        if (!ok) {
            assembly {
                revert(add(response, 0x20), mload(response))
            }
        }
    }
}

/// Builds DSProxy instances (ds-proxy's DSProxyFactory.build(owner)), remembering which it built.
contract DSProxyFactory {
    mapping(address => bool) public isProxy;

    event Created(address indexed sender, address indexed owner, address proxy, address cache);

    function build(address owner) public returns (address payable proxy) {
        proxy = payable(address(new DSProxy(owner)));
        isProxy[proxy] = true;
        emit Created(msg.sender, owner, proxy, address(0));
    }
}

/// The registry of proxies for the devnet, written for this project behind the external ABI of
/// makerdao/proxy-registry src/ProxyRegistry.sol: proxies(owner) is the proxy built for owner; build() builds one
/// for the caller, refused while the caller already has one it still owns.
contract ProxyRegistry {
    mapping(address => address) public proxies;
    DSProxyFactory public factory;

    constructor(address factory_) {
        factory = DSProxyFactory(factory_);
    }

    function build() external returns (address payable proxy) {
        proxy = build(msg.sender);
    }

    function build(address owner) public returns (address payable proxy) {
        address known = proxies[owner];
        require(known == address(0) || DSProxy(payable(known)).owner() != owner, "ProxyRegistry/proxy-registered-to-owner");
        proxy = factory.build(owner);
        proxies[owner] = proxy;
    }
}
