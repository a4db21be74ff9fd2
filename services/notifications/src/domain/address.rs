//! Guarding subscriber endpoint URLs against server-side request forgery.
//!
//! A webhook endpoint is an address chosen by a subscriber that this service
//! then calls. Without checks a subscriber could point it at the service's own
//! network: loopback, private ranges, cloud metadata (169.254.169.254) and so
//! on. [`parse_endpoint`] checks the form of the URL; [`is_public`] judges an
//! address. Resolving the host and checking every address it resolves to is
//! `adapters::resolve::check`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use reqwest::Url;

/// Longest accepted endpoint URL, in bytes.
pub const MAX_URL_LEN: usize = 2048;

/// Why an endpoint URL was refused. The messages are meant for the
/// subscriber who entered the URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// The URL is malformed or uses a form that is not allowed.
    #[error("invalid endpoint URL: {0}")]
    Invalid(String),
    /// The host is, or resolves to, an address that is not public.
    #[error("the endpoint host {host} points to {addr}, which is not a public internet address")]
    Private { host: String, addr: IpAddr },
    /// The host name did not resolve to any address.
    #[error("the endpoint host {0} could not be resolved")]
    Unresolvable(String),
}

/// Parses an endpoint URL and checks its form: `http` or `https` only, a
/// host is required, no user name or password, and at most
/// [`MAX_URL_LEN`] bytes. Does not resolve the host.
pub fn parse_endpoint(url: &str) -> Result<Url, AddressError> {
    if url.len() > MAX_URL_LEN {
        return Err(too_long(url.len()));
    }
    let parsed = Url::parse(url).map_err(|e| AddressError::Invalid(format!("{e}")))?;
    validate(&parsed)?;
    Ok(parsed)
}

/// Rules on the form of a parsed URL, shared by [`parse_endpoint`] and the
/// resolving check.
pub fn validate(url: &Url) -> Result<(), AddressError> {
    // Parsing can lengthen the text (percent-encoding), so the stored form
    // is measured as well.
    if url.as_str().len() > MAX_URL_LEN {
        return Err(too_long(url.as_str().len()));
    }
    match url.scheme() {
        "http" | "https" => {}
        other => {
            return Err(AddressError::Invalid(format!(
                "the scheme must be http or https, not {other}"
            )));
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(AddressError::Invalid("the URL has no host".to_owned()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(AddressError::Invalid(
            "the URL must not contain a user name or password".to_owned(),
        ));
    }
    Ok(())
}

fn too_long(len: usize) -> AddressError {
    AddressError::Invalid(format!(
        "the URL is {len} bytes long; at most {MAX_URL_LEN} are allowed"
    ))
}

/// Whether `ip` is an ordinary public internet address that an endpoint may
/// use.
///
/// IPv4 addresses are refused in these ranges: 0.0.0.0/8 (including the
/// unspecified address), 10.0.0.0/8, 100.64.0.0/10 (carrier-grade NAT),
/// 127.0.0.0/8, 169.254.0.0/16 (link-local, including cloud metadata
/// services), 172.16.0.0/12, 192.0.0.0/24, 192.0.2.0/24, 192.88.99.0/24
/// (6to4 relay), 192.168.0.0/16, 198.18.0.0/15 (benchmarking),
/// 198.51.100.0/24, 203.0.113.0/24, 224.0.0.0/4 (multicast) and
/// 240.0.0.0/4 (reserved, including broadcast).
///
/// IPv6 addresses that carry an IPv4 address are judged by that address:
/// IPv4-mapped `::ffff:0:0/96`, IPv4-compatible `::/96`, NAT64
/// `64:ff9b::/96` and 6to4 `2002::/16`. Otherwise only global unicast
/// `2000::/3` is public, minus 2001::/23 (protocol assignments, including
/// Teredo), 2001:db8::/32 and 3fff::/20 (documentation). This refuses `::`,
/// `::1`, unique local fc00::/7, link-local fe80::/10, multicast ff00::/8,
/// local NAT64 64:ff9b:1::/48 and discard 100::/64 among others.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

/// IPv4 ranges that are not public, as (network, prefix length).
const V4_NOT_PUBLIC: &[(Ipv4Addr, u8)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8),
    (Ipv4Addr::new(10, 0, 0, 0), 8),
    (Ipv4Addr::new(100, 64, 0, 0), 10),
    (Ipv4Addr::new(127, 0, 0, 0), 8),
    (Ipv4Addr::new(169, 254, 0, 0), 16),
    (Ipv4Addr::new(172, 16, 0, 0), 12),
    (Ipv4Addr::new(192, 0, 0, 0), 24),
    (Ipv4Addr::new(192, 0, 2, 0), 24),
    (Ipv4Addr::new(192, 88, 99, 0), 24),
    (Ipv4Addr::new(192, 168, 0, 0), 16),
    (Ipv4Addr::new(198, 18, 0, 0), 15),
    (Ipv4Addr::new(198, 51, 100, 0), 24),
    (Ipv4Addr::new(203, 0, 113, 0), 24),
    (Ipv4Addr::new(224, 0, 0, 0), 4),
    (Ipv4Addr::new(240, 0, 0, 0), 4),
];

/// IPv6 ranges inside 2000::/3 that are not public.
const V6_NOT_PUBLIC: &[(Ipv6Addr, u8)] = &[
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23),
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32),
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20),
];

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let bits = u32::from(ip);
    !V4_NOT_PUBLIC.iter().any(|&(net, len)| {
        let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
        bits & mask == u32::from(net)
    })
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let bits = u128::from(ip);
    // The low 32 bits, for prefixes that embed an IPv4 address there.
    let low_v4 = || Ipv4Addr::from((bits & 0xffff_ffff) as u32);
    let in_prefix = |net: Ipv6Addr, len: u8| {
        let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
        bits & mask == u128::from(net)
    };

    if ip.is_unspecified() || ip.is_loopback() {
        return false;
    }
    // IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d and the NAT64
    // well-known prefix 64:ff9b::a.b.c.d.
    if in_prefix(Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0), 96)
        || in_prefix(Ipv6Addr::UNSPECIFIED, 96)
        || in_prefix(Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96)
    {
        return is_public_v4(low_v4());
    }
    // 6to4 2002:AABB:CCDD::/48 embeds the IPv4 address AA.BB.CC.DD.
    if in_prefix(Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16) {
        return is_public_v4(Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32));
    }
    in_prefix(Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3)
        && !V6_NOT_PUBLIC.iter().any(|&(net, len)| in_prefix(net, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("test address parses")
    }

    fn assert_not_public(addrs: &[&str]) {
        for text in addrs {
            assert!(!is_public(ip(text)), "{text} must not be public");
        }
    }

    fn assert_public(addrs: &[&str]) {
        for text in addrs {
            assert!(is_public(ip(text)), "{text} must be public");
        }
    }

    #[test]
    fn ordinary_addresses_are_public() {
        assert_public(&[
            "1.1.1.1",
            "8.8.8.8",
            "93.184.215.14",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2a00:1450:4001:82b::200e",
        ]);
    }

    #[test]
    fn ipv4_loopback_and_this_network() {
        assert_not_public(&["127.0.0.1", "127.255.255.254", "0.0.0.0", "0.1.2.3"]);
    }

    #[test]
    fn ipv4_private_ranges() {
        assert_not_public(&[
            "10.0.0.1",
            "10.255.255.255",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.0.1",
            "192.168.255.255",
        ]);
        assert_public(&["172.15.255.255", "172.32.0.0", "11.0.0.0", "192.169.0.0"]);
    }

    #[test]
    fn ipv4_link_local_and_cloud_metadata() {
        assert_not_public(&["169.254.169.254", "169.254.0.1", "169.254.255.255"]);
        assert_public(&["169.253.255.255", "169.255.0.0"]);
    }

    #[test]
    fn ipv4_carrier_grade_nat() {
        assert_not_public(&["100.64.0.1", "100.127.255.255"]);
        assert_public(&["100.63.255.255", "100.128.0.0"]);
    }

    #[test]
    fn ipv4_special_purpose_and_documentation() {
        assert_not_public(&[
            "192.0.0.1",
            "192.0.0.170",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.200",
            "192.88.99.1",
        ]);
        assert_public(&["192.0.1.1", "192.0.3.1", "198.51.101.1", "203.0.114.1"]);
    }

    #[test]
    fn ipv4_benchmarking() {
        assert_not_public(&["198.18.0.1", "198.19.255.255"]);
        assert_public(&["198.17.255.255", "198.20.0.0"]);
    }

    #[test]
    fn ipv4_multicast_reserved_and_broadcast() {
        assert_not_public(&[
            "224.0.0.1",
            "239.255.255.255",
            "240.0.0.1",
            "250.1.2.3",
            "255.255.255.255",
        ]);
    }

    #[test]
    fn ipv6_loopback_and_unspecified() {
        assert_not_public(&["::1", "::"]);
    }

    #[test]
    fn ipv6_unique_local_link_local_and_multicast() {
        assert_not_public(&[
            "fc00::1",
            "fd12:3456:789a::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "ff0e::1",
        ]);
    }

    #[test]
    fn ipv6_documentation_and_protocol_ranges() {
        assert_not_public(&[
            "2001:db8::1",
            "2001:db8:ffff::1",
            "3fff::1",
            "2001::1",
            "2001:0:4136:e378::1",
            "100::1",
            "64:ff9b:1::1",
        ]);
        assert_public(&["2001:db9::1", "2001:200::1"]);
    }

    #[test]
    fn ipv6_embedding_ipv4_is_judged_by_the_ipv4() {
        assert_not_public(&[
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "::192.168.1.1",
            "64:ff9b::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::1",
            "2002:c0a8:101::1",
        ]);
        assert_public(&["::ffff:8.8.8.8", "::8.8.8.8", "64:ff9b::8.8.8.8", "2002:808:808::1"]);
    }

    #[test]
    fn parses_http_and_https_endpoints() {
        let url = parse_endpoint("https://hooks.example.com/in?x=1").expect("https is accepted");
        assert_eq!(url.host_str(), Some("hooks.example.com"));
        parse_endpoint("http://hooks.example.com:8080/").expect("http is accepted");
        parse_endpoint("http://[2606:4700::1]/").expect("IPv6 literal is accepted");
    }

    #[test]
    fn rejects_other_schemes() {
        for url in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "gopher://example.com/",
            "javascript:alert(1)",
            "data:text/plain,hi",
        ] {
            let err = parse_endpoint(url).expect_err("scheme is refused");
            assert!(matches!(err, AddressError::Invalid(_)), "{url}: {err}");
        }
        let err = parse_endpoint("ftp://example.com/").expect_err("ftp is refused");
        assert_eq!(
            err.to_string(),
            "invalid endpoint URL: the scheme must be http or https, not ftp"
        );
    }

    #[test]
    fn rejects_missing_host_and_malformed_urls() {
        for url in ["http://", "https:///", "not a url", "/relative/path", ""] {
            let err = parse_endpoint(url).expect_err("URL is refused");
            assert!(matches!(err, AddressError::Invalid(_)), "{url:?}: {err}");
        }
    }

    #[test]
    fn rejects_userinfo() {
        for url in [
            "https://user:pass@example.com/",
            "https://user@example.com/",
            "https://:pass@example.com/",
        ] {
            let err = parse_endpoint(url).expect_err("userinfo is refused");
            assert!(err.to_string().contains("user name or password"), "{url}: {err}");
        }
    }

    #[test]
    fn limits_the_length() {
        let base = "https://example.com/";
        let at_limit = format!("{base}{}", "a".repeat(MAX_URL_LEN - base.len()));
        parse_endpoint(&at_limit).expect("URL at the limit is accepted");
        let over = format!("{at_limit}a");
        let err = parse_endpoint(&over).expect_err("URL over the limit is refused");
        assert!(err.to_string().contains("2048"), "{err}");
        // Percent-encoding pushes this one over the limit after parsing.
        // Each "é" is 2 bytes of input and 6 bytes once encoded as %C3%A9.
        let grows = format!("{base}{}", "é".repeat((MAX_URL_LEN - base.len()) / 2));
        assert!(grows.len() <= MAX_URL_LEN);
        parse_endpoint(&grows).expect_err("encoded URL over the limit is refused");
    }
}
