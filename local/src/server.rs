//! The HTTP/1.1 server: accepts connections on loopback, reads each request, hands it to the [`Gateway`], and on
//! shutdown stops accepting and lets in-flight requests finish.

use std::convert::Infallible;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use lambda_http::{Body, Response};
use tokio::net::TcpListener;

use crate::gateway::{self, Gateway};

/// How long in-flight requests get to finish after a shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves until `shutdown` completes, then waits for open requests (at most [`DRAIN_TIMEOUT`]).
pub async fn serve(listener: TcpListener, gateway: Arc<Gateway>, shutdown: impl Future<Output = ()>) {
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(Duration::from_secs(30));
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let gw = gateway.clone();
                let ip = peer.ip();
                let service = service_fn(move |req| {
                    let gw = gw.clone();
                    async move { Ok::<_, Infallible>(serve_request(&gw, req, ip).await) }
                });
                let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(DRAIN_TIMEOUT) => tracing::warn!("gave up waiting for open connections"),
    }
}

async fn serve_request(gw: &Gateway, req: hyper::Request<Incoming>, ip: IpAddr) -> Response<Body> {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let body: Bytes = match Limited::new(body, gateway::MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return gateway::payload_too_large(),
        Err(e) => {
            tracing::debug!(error = %e, "could not read the request body");
            return gateway::payload_unreadable();
        }
    };
    // The request's line is kept for the log only when that log line is on.
    let logged = tracing::enabled!(tracing::Level::DEBUG).then(|| (parts.method.clone(), parts.uri.path().to_owned()));
    let resp = gw.dispatch(hyper::Request::from_parts(parts, body), ip).await;
    if let Some((method, path)) = logged {
        let elapsed_us = started.elapsed().as_micros() as u64;
        tracing::debug!(%method, %path, status = resp.status().as_u16(), elapsed_us);
    }
    resp
}
