//! What the end-to-end test files share: free ports and signed transfers between the
//! devnet's test accounts.

use ferry_circuits::eddsa::PrivateKey;
use ferry_circuits::ops::transfer::Transfer;
use ferry_circuits::ops::{AccountId, Amount, Nonce};
use ferry_circuits::Domain;
use ferry_node::devnet::TestAccount;
use ferry_node::tx::L2Tx;

/// A loopback port nobody listens on (now).
pub fn free_port() -> u16 {
    ferry_node::free_port().unwrap()
}

/// The key of a test account.
pub fn key(a: &TestAccount) -> PrivateKey {
    PrivateKey::from_hex(&a.private_key).unwrap()
}

/// The deployment a devnet's signatures name, as its `ferry_chainInfo` gives it.
pub async fn domain_of(c: &jsonrpsee::http_client::HttpClient) -> Domain {
    use ferry_node::rpc::FerryApiClient;
    c.chain_info().await.unwrap().domain
}

/// A transfer with a fee of 1, signed by `from` for the deployment `domain`.
pub fn transfer(domain: Domain, from: &TestAccount, to: u32, amount: u64, nonce: u32) -> L2Tx {
    let t = Transfer {
        from: AccountId(from.id),
        to: AccountId(to),
        amount: Amount(amount),
        fee: Amount(1),
        nonce: Nonce(nonce),
    };
    L2Tx::Transfer(t.sign(domain, &key(from)))
}
