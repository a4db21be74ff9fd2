//! Resolving a subscriber endpoint's host and checking every address it resolves to, so a
//! webhook never reaches the service's own network (see [`crate::domain::address`]).
//!
//! [`check`] returns the addresses it approved. Callers should connect to
//! exactly those addresses (for example with reqwest's
//! `ClientBuilder::resolve_to_addrs`) so that a second DNS answer cannot swap
//! in a private address between the check and the request.

use std::net::{IpAddr, SocketAddr};

use reqwest::Url;

use crate::domain::address::{AddressError, is_public, validate};

/// Resolves the endpoint's host and returns its socket addresses (with the
/// URL's port, or 80/443 by scheme), without duplicates and in resolver
/// order.
///
/// Fails when the URL breaks the rules of `parse_endpoint`, when the host
/// does not resolve, and, unless `allow_private` is set, when any resolved
/// address is not public according to [`is_public`]. IP literal hosts are
/// used as they are, without a lookup.
///
/// The lookup has no time limit of its own beyond the system resolver's;
/// wrap the call in `tokio::time::timeout` where that matters.
pub async fn check(url: &Url, allow_private: bool) -> Result<Vec<SocketAddr>, AddressError> {
    validate(url)?;
    let port = url
        .port_or_known_default()
        .ok_or_else(|| AddressError::Invalid("the URL has no port".to_owned()))?;
    let host = url
        .host_str()
        .ok_or_else(|| AddressError::Invalid("the URL has no host".to_owned()))?;
    // IPv6 literals are written in brackets.
    let literal = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
        .parse::<IpAddr>()
        .ok();

    let resolved: Vec<SocketAddr> = match literal {
        Some(ip) => vec![SocketAddr::new(ip, port)],
        None => tokio::net::lookup_host((host, port))
            .await
            .map_err(|_| AddressError::Unresolvable(host.to_owned()))?
            .collect(),
    };
    let mut addrs: Vec<SocketAddr> = Vec::with_capacity(resolved.len());
    for addr in resolved {
        if !addrs.contains(&addr) {
            addrs.push(addr);
        }
    }

    if addrs.is_empty() {
        return Err(AddressError::Unresolvable(host.to_owned()));
    }
    if !allow_private && let Some(bad) = addrs.iter().find(|addr| !is_public(addr.ip())) {
        return Err(AddressError::Private {
            host: host.to_owned(),
            addr: bad.ip(),
        });
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::address::parse_endpoint;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("test address parses")
    }

    #[tokio::test]
    async fn check_refuses_loopback_literal_unless_allowed() {
        let url = parse_endpoint("http://127.0.0.1:9/x").expect("URL parses");
        let err = check(&url, false).await.expect_err("loopback is refused");
        assert_eq!(
            err,
            AddressError::Private {
                host: "127.0.0.1".to_owned(),
                addr: ip("127.0.0.1"),
            }
        );
        assert!(err.to_string().contains("127.0.0.1"), "{err}");
        let addrs = check(&url, true).await.expect("loopback is allowed on request");
        assert_eq!(addrs, vec![SocketAddr::new(ip("127.0.0.1"), 9)]);
    }

    #[tokio::test]
    async fn check_refuses_localhost_unless_allowed() {
        let url = parse_endpoint("http://localhost/").expect("URL parses");
        let err = check(&url, false).await.expect_err("localhost is refused");
        match &err {
            AddressError::Private { host, addr } => {
                assert_eq!(host, "localhost");
                assert!(addr.is_loopback(), "{addr}");
            }
            other => panic!("unexpected error: {other}"),
        }
        let addrs = check(&url, true).await.expect("localhost is allowed on request");
        assert!(!addrs.is_empty());
        assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 80));
    }

    #[tokio::test]
    async fn check_uses_ipv6_literals_and_default_ports() {
        let url = parse_endpoint("https://[::1]/").expect("URL parses");
        assert!(matches!(check(&url, false).await, Err(AddressError::Private { .. })));
        let addrs = check(&url, true).await.expect("allowed on request");
        assert_eq!(addrs, vec![SocketAddr::new(ip("::1"), 443)]);

        let url = parse_endpoint("http://[::ffff:169.254.169.254]/").expect("URL parses");
        assert!(matches!(check(&url, false).await, Err(AddressError::Private { .. })));
    }

    #[tokio::test]
    async fn check_accepts_public_literal() {
        let url = parse_endpoint("https://8.8.8.8:8443/hook").expect("URL parses");
        let addrs = check(&url, false).await.expect("public address is accepted");
        assert_eq!(addrs, vec![SocketAddr::new(ip("8.8.8.8"), 8443)]);
    }

    #[tokio::test]
    async fn check_rejects_urls_that_break_the_rules() {
        let url = Url::parse("ftp://8.8.8.8/").expect("URL parses");
        assert!(matches!(check(&url, true).await, Err(AddressError::Invalid(_))));
        let url = Url::parse("http://user:pw@8.8.8.8/").expect("URL parses");
        assert!(matches!(check(&url, true).await, Err(AddressError::Invalid(_))));
    }

    #[tokio::test]
    async fn check_reports_unresolvable_hosts() {
        // The .invalid top-level domain never resolves.
        let url = parse_endpoint("https://no-such-host.invalid/").expect("URL parses");
        assert_eq!(
            check(&url, true).await,
            Err(AddressError::Unresolvable("no-such-host.invalid".to_owned()))
        );
    }
}
