// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./LiquityV2DevBase.sol";

/// A branch's trove NFT for the devnet (liquity/bold contracts/src/TroveNFT.sol: an OpenZeppelin ERC721, not
/// enumerable, whose token id is the trove id): minted to the owner when a trove opens and burned when it closes,
/// both by the TroveManager; `ownerOf` reverts for a token that does not exist (ERC721NonexistentToken), `balanceOf`
/// counts an owner's troves, transfers move a trove to another owner and emit Transfer(from, to, id) — which is
/// what discovery scans. Left out: safe transfers' receiver check, tokenURI and metadata.
contract TroveNFT {
    string public name;
    string public symbol;
    address public immutable troveManager;

    mapping(uint256 => address) private owners;
    mapping(address => uint256) private balances;
    mapping(uint256 => address) private approvals;
    mapping(address => mapping(address => bool)) private operators;

    error ERC721NonexistentToken(uint256 tokenId);
    error ERC721InvalidOwner(address owner);
    error ERC721InsufficientApproval(address operator, uint256 tokenId);
    error ERC721IncorrectOwner(address sender, uint256 tokenId, address owner);
    error ERC721InvalidReceiver(address receiver);
    error CallerNotTroveManager();

    event Transfer(address indexed from, address indexed to, uint256 indexed tokenId);
    event Approval(address indexed owner, address indexed approved, uint256 indexed tokenId);
    event ApprovalForAll(address indexed owner, address indexed operator, bool approved);

    constructor(IDevAddressesRegistry registry, string memory name_, string memory symbol_) {
        troveManager = registry.troveManager();
        name = name_;
        symbol = symbol_;
    }

    function balanceOf(address owner) external view returns (uint256) {
        if (owner == address(0)) revert ERC721InvalidOwner(address(0));
        return balances[owner];
    }

    function ownerOf(uint256 tokenId) public view returns (address owner) {
        owner = owners[tokenId];
        if (owner == address(0)) revert ERC721NonexistentToken(tokenId);
    }

    function getApproved(uint256 tokenId) external view returns (address) {
        ownerOf(tokenId);
        return approvals[tokenId];
    }

    function isApprovedForAll(address owner, address operator) external view returns (bool) {
        return operators[owner][operator];
    }

    function approve(address to, uint256 tokenId) external {
        address owner = ownerOf(tokenId);
        if (msg.sender != owner && !operators[owner][msg.sender]) revert ERC721InsufficientApproval(msg.sender, tokenId);
        approvals[tokenId] = to;
        emit Approval(owner, to, tokenId);
    }

    function setApprovalForAll(address operator, bool approved) external {
        operators[msg.sender][operator] = approved;
        emit ApprovalForAll(msg.sender, operator, approved);
    }

    function transferFrom(address from, address to, uint256 tokenId) public {
        if (to == address(0)) revert ERC721InvalidReceiver(address(0));
        address owner = ownerOf(tokenId);
        if (owner != from) revert ERC721IncorrectOwner(from, tokenId, owner);
        if (msg.sender != owner && !operators[owner][msg.sender] && approvals[tokenId] != msg.sender) {
            revert ERC721InsufficientApproval(msg.sender, tokenId);
        }
        delete approvals[tokenId];
        balances[from] -= 1;
        balances[to] += 1;
        owners[tokenId] = to;
        emit Transfer(from, to, tokenId);
    }

    function safeTransferFrom(address from, address to, uint256 tokenId) external {
        transferFrom(from, to, tokenId);
    }

    function mint(address owner, uint256 tokenId) external {
        if (msg.sender != troveManager) revert CallerNotTroveManager();
        if (owner == address(0)) revert ERC721InvalidReceiver(address(0));
        require(owners[tokenId] == address(0), "TroveNFT: minted");
        balances[owner] += 1;
        owners[tokenId] = owner;
        emit Transfer(address(0), owner, tokenId);
    }

    function burn(uint256 tokenId) external {
        if (msg.sender != troveManager) revert CallerNotTroveManager();
        address owner = ownerOf(tokenId);
        delete approvals[tokenId];
        balances[owner] -= 1;
        delete owners[tokenId];
        emit Transfer(owner, address(0), tokenId);
    }
}
