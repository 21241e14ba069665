//! What stands between a socket and the `ferry_` methods: a per-peer connection limit, a
//! deadline for a request's body, and the JSON-RPC envelope and arity checks that jsonrpsee
//! leaves to the application.
//!
//! jsonrpsee counts connections globally and reads a body for as long as the client keeps
//! sending it, so 256 clients that announce a body and then trickle it held every permit and
//! got everyone else HTTP 429. Here a peer (an IP address) holds at most [`PER_PEER`]
//! connections, and a body not whole within [`BODY_DEADLINE`] gets 408 and a closed
//! connection: only the abuser is refused.

use super::MAX_BODY;
use bytes::Bytes;
use http_body_util::BodyExt;
use jsonrpsee::server::http::response;
use jsonrpsee::server::middleware::rpc::{
    Batch, BatchEntry, BatchEntryErr, Notification, RpcServiceT,
};
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse, MethodResponse};
use jsonrpsee::types::{ErrorCode, ErrorObject, Id, Request, ResponsePayload};
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Connections one IP address may hold open at once; the next ones get 429 and are closed.
pub const PER_PEER: usize = 32;

/// Connections from all peers together (WebSocket subscribers and HTTP requests in flight).
pub const MAX_CONNECTIONS: u32 = 1024;

/// How long a request's body may take to arrive once its headers have.
pub const BODY_DEADLINE: Duration = Duration::from_secs(10);

/// Positional parameters each method takes; a call with more is refused (-32602), where
/// jsonrpsee would ignore the extra ones. [`check_arity`] holds this to the methods served.
pub const ARITY: &[(&str, usize)] = &[
    ("ferry_sendTransaction", 1),
    ("ferry_getReceipt", 1),
    ("ferry_getAccount", 1),
    ("ferry_getAccountByPubkey", 1),
    ("ferry_getBatch", 1),
    ("ferry_chainInfo", 0),
    ("ferry_verifyingKey", 0),
    ("ferry_pendingTransactions", 0),
    ("ferry_devnetDeposit", 3),
    ("ferry_devnetForceWithdraw", 2),
    ("ferry_devnetClaim", 1),
    ("ferry_subscribeBatches", 0),
    ("ferry_unsubscribeBatches", 1),
];

/// Panics if a method served has no entry in [`ARITY`], or an entry names no method: a
/// programming error that every test starting a server would show.
pub fn check_arity(names: &[&str]) {
    for name in names {
        assert!(
            ARITY.iter().any(|(m, _)| m == name),
            "{name} is served but has no entry in ARITY"
        );
    }
    assert_eq!(names.len(), ARITY.len(), "ARITY names a method not served");
}

/// Open connections per peer address.
#[derive(Debug, Clone, Default)]
pub struct Peers(Arc<Mutex<HashMap<IpAddr, usize>>>);

/// One connection counted against its peer until dropped.
#[derive(Debug)]
pub struct PeerSlot {
    peers: Peers,
    ip: IpAddr,
}

impl Peers {
    /// A slot for one more connection from `ip`, or `None` when it already holds `limit`.
    pub fn admit(&self, ip: IpAddr, limit: usize) -> Option<PeerSlot> {
        let mut open = self.0.lock().expect("peer table");
        let n = open.entry(ip).or_default();
        if *n >= limit {
            return None;
        }
        *n += 1;
        Some(PeerSlot {
            peers: self.clone(),
            ip,
        })
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let mut open = self.peers.0.lock().expect("peer table");
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Tells a peer over its limit why it is refused, then closes; never waits on it for long.
pub async fn refuse(mut sock: TcpStream) {
    const REPLY: &[u8] = b"HTTP/1.1 429 Too Many Requests\r\ncontent-type: text/plain\r\n\
        content-length: 41\r\nconnection: close\r\n\r\ntoo many connections from this address\r\n\r\n";
    let _ = tokio::time::timeout(Duration::from_secs(1), sock.write_all(REPLY)).await;
}

/// The HTTP layer: reads a POST body whole within [`BODY_DEADLINE`] and at most
/// [`MAX_BODY`] bytes, and refuses an envelope that is not a JSON-RPC request.
#[derive(Debug, Clone, Copy, Default)]
pub struct BodyGuardLayer;

impl<S> tower::Layer<S> for BodyGuardLayer {
    type Service = BodyGuard<S>;
    fn layer(&self, inner: S) -> BodyGuard<S> {
        BodyGuard { inner }
    }
}

/// See [`BodyGuardLayer`].
#[derive(Debug, Clone)]
pub struct BodyGuard<S> {
    inner: S,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<S, B> tower::Service<HttpRequest<B>> for BodyGuard<S>
where
    S: tower::Service<HttpRequest<HttpBody>, Response = HttpResponse, Error = BoxError>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: HttpRequest<B>) -> Self::Future {
        // the clone that was polled ready serves this call (tower's rule for cloned services)
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            if req.method() == "GET" && req.uri().path() == crate::explorer::PATH {
                return Ok(crate::explorer::page());
            }
            if req.method() != "POST" {
                // WebSocket upgrades and other GETs carry no body; jsonrpsee answers them
                return inner.call(req.map(HttpBody::new)).await;
            }
            let (parts, body) = req.into_parts();
            let announced = parts
                .headers
                .get("content-length")
                .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
            if announced.is_some_and(|n| n > u64::from(MAX_BODY)) {
                return Ok(response::too_large(MAX_BODY));
            }
            let limited = http_body_util::Limited::new(body, MAX_BODY as usize);
            let bytes = match tokio::time::timeout(BODY_DEADLINE, limited.collect()).await {
                Err(_) => return Ok(too_slow()),
                Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
                    return Ok(response::too_large(MAX_BODY))
                }
                Ok(Err(_)) => return Ok(response::malformed()),
                Ok(Ok(collected)) => collected.to_bytes(),
            };
            if !envelope_ok(&bytes) {
                return Ok(invalid_request());
            }
            inner
                .call(HttpRequest::from_parts(
                    parts,
                    HttpBody::from(bytes.to_vec()),
                ))
                .await
        })
    }
}

/// 408 for a body that did not arrive in time; the connection is closed after it.
fn too_slow() -> HttpResponse {
    HttpResponse::builder()
        .status(408)
        .header("content-type", "text/plain")
        .header("connection", "close")
        .body(HttpBody::from(format!(
            "request body not received within {} s\n",
            BODY_DEADLINE.as_secs()
        )))
        .expect("static response")
}

/// JSON-RPC's -32600 with a null id, as HTTP 200.
fn invalid_request() -> HttpResponse {
    let rp = jsonrpsee::types::Response::new(
        ResponsePayload::<()>::error(ErrorCode::InvalidRequest),
        Id::Null,
    );
    response::ok_response(serde_json::to_string(&rp).expect("serializable"))
}

/// Whether `body` has the shape of a request or a batch of them, as far as jsonrpsee leaves
/// unchecked: JSON that is neither an object nor an array (a bare number, a string), and an
/// `id` that is not null, a non-negative integer or a string, which jsonrpsee would take for a
/// notification and answer with nothing. Bodies that are not JSON at all pass, for jsonrpsee's
/// parse error.
pub fn envelope_ok(body: &[u8]) -> bool {
    let id_ok = |v: &Value| match v.get("id") {
        None | Some(Value::Null | Value::String(_)) => true,
        Some(Value::Number(n)) => n.is_u64(),
        Some(_) => false,
    };
    match serde_json::from_slice::<Value>(body) {
        Err(_) => true,
        Ok(v @ Value::Object(_)) => id_ok(&v),
        Ok(Value::Array(calls)) => calls.iter().all(|c| !c.is_object() || id_ok(c)),
        Ok(_) => false,
    }
}

/// The RPC layer that refuses extra positional parameters (see [`ARITY`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct ArityLayer;

impl<S> tower::Layer<S> for ArityLayer {
    type Service = Arity<S>;
    fn layer(&self, inner: S) -> Arity<S> {
        Arity { inner }
    }
}

/// See [`ArityLayer`].
#[derive(Debug, Clone)]
pub struct Arity<S> {
    inner: S,
}

/// Why `req` is refused, if it has more positional parameters than its method takes.
fn excess(
    method: &str,
    params: Option<&serde_json::value::RawValue>,
) -> Option<ErrorObject<'static>> {
    let (_, takes) = ARITY.iter().find(|(m, _)| *m == method)?;
    let given = match serde_json::from_str::<Value>(params?.get()).ok()? {
        Value::Array(a) => a.len(),
        _ => return None,
    };
    (given > *takes).then(|| {
        ErrorObject::owned(
            ErrorCode::InvalidParams.code(),
            format!("{method} takes {takes} parameter(s), {given} given"),
            None::<()>,
        )
    })
}

impl<S> RpcServiceT for Arity<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            BatchResponse = MethodResponse,
            NotificationResponse = MethodResponse,
        > + Send
        + Sync
        + Clone
        + 'static,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = MethodResponse;
    type BatchResponse = MethodResponse;

    fn call<'a>(&self, req: Request<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let inner = self.inner.clone();
        async move {
            match excess(&req.method, req.params.as_deref()) {
                Some(e) => MethodResponse::error(req.id, e),
                None => inner.call(req).await,
            }
        }
    }

    fn batch<'a>(&self, mut batch: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        for entry in batch.iter_mut() {
            let refused = match entry {
                Ok(BatchEntry::Call(req)) => excess(&req.method, req.params.as_deref())
                    .map(|e| BatchEntryErr::new(req.id.clone(), e)),
                _ => None,
            };
            if let Some(r) = refused {
                *entry = Err(r);
            }
        }
        self.inner.batch(batch)
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.inner.notification(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes() {
        assert!(envelope_ok(br#"{"jsonrpc":"2.0","id":1,"method":"m"}"#));
        assert!(envelope_ok(br#"{"jsonrpc":"2.0","id":"a","method":"m"}"#));
        assert!(envelope_ok(
            br#"[{"jsonrpc":"2.0","id":null,"method":"m"}, 5]"#
        ));
        assert!(envelope_ok(b"{not json"), "jsonrpsee's parse error");
        assert!(!envelope_ok(b"5"));
        assert!(!envelope_ok(br#""ferry_chainInfo""#));
        assert!(!envelope_ok(br#"{"jsonrpc":"2.0","id":{},"method":"m"}"#));
        assert!(!envelope_ok(br#"{"jsonrpc":"2.0","id":-1,"method":"m"}"#));
        assert!(!envelope_ok(br#"{"jsonrpc":"2.0","id":1.5,"method":"m"}"#));
        assert!(!envelope_ok(
            br#"[{"jsonrpc":"2.0","id":[1],"method":"m"}]"#
        ));
    }

    #[test]
    fn extra_positional_params_are_refused() {
        let raw = |s: &str| serde_json::value::RawValue::from_string(s.into()).unwrap();
        assert!(excess("ferry_chainInfo", Some(&raw("[]"))).is_none());
        assert!(excess("ferry_chainInfo", None).is_none());
        assert!(excess("ferry_getBatch", Some(&raw("[1]"))).is_none());
        let e = excess("ferry_getBatch", Some(&raw("[1, 2]"))).unwrap();
        assert_eq!(e.code(), ErrorCode::InvalidParams.code());
        assert!(excess("ferry_devnetDeposit", Some(&raw("[1,2,3,4]"))).is_some());
    }

    #[test]
    fn a_peer_holds_at_most_its_limit() {
        let peers = Peers::default();
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.1".parse().unwrap();
        let held: Vec<_> = (0..3).map(|_| peers.admit(a, 3).unwrap()).collect();
        assert!(peers.admit(a, 3).is_none());
        assert!(peers.admit(b, 3).is_some(), "another peer is not refused");
        drop(held);
        assert!(peers.admit(a, 3).is_some(), "slots come back when closed");
    }
}
