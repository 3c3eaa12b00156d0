//! Networks and caller addresses, written once for the server, the embedded authority and the
//! Flask, FastAPI and Express adapters.
//!
//! - [`IpNet`]: an IP network (`10.0.0.0/8`, `2001:db8::/32`, or a bare address for one host).
//!   Parsing is strict: a network whose address has bits set beyond its prefix
//!   (`10.0.0.1/8`) is refused with the network it probably means, since the intent is unclear.
//!   IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) are IPv4 everywhere.
//! - [`client_address`]: which address a request comes from. The peer of the connection, unless
//!   the peer is a trusted proxy: then the `X-Forwarded-For` entry nearest to the peer that is not
//!   itself a trusted proxy. `X-Forwarded-For` from any other peer is ignored (anyone can send
//!   it), and a malformed header is believed no further than the proxy.
//!
//! The vectors in `tests/vectors/network.json` pin both; the Rust, Python and Node suites run them.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An IP network: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Whether `ip` is in this network (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl fmt::Display for IpNet {
    /// Always `addr/prefix`, the address in its canonical text form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for IpNet {
    type Err = String;

    /// `10.0.0.0/8`, `2001:db8::/32`, or a bare address (one host: `/32` or `/128`).
    fn from_str(s: &str) -> Result<Self, String> {
        let text = s.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address or network (e.g. 10.0.0.0/8)"))?;
        let addr = canonical(addr);
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            // Digits only, no leading zero: `8`, not `08` or `+8`.
            Some(p) => Some(p)
                .filter(|p| p.bytes().all(|b| b.is_ascii_digit()) && (p.len() == 1 || !p.starts_with('0')))
                .and_then(|p| p.parse::<u8>().ok())
                .filter(|n| *n <= max)
                .ok_or_else(|| format!("{s:?}: the prefix length must be a number from 0 to {max}"))?,
        };
        let net = IpNet { addr, prefix };
        let base = net.network();
        if base != addr {
            return Err(format!(
                "{s:?} has address bits set beyond its /{prefix} prefix; the network is {base}/{prefix}"
            ));
        }
        Ok(net)
    }
}

impl IpNet {
    /// The address with the bits beyond the prefix cleared.
    fn network(&self) -> IpAddr {
        match self.addr {
            IpAddr::V4(a) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                IpAddr::V4((u32::from(a) & mask).into())
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                IpAddr::V6((u128::from(a) & mask).into())
            }
        }
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) as IPv4; every other address unchanged.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Parses a caller address (`client_ip`): an IPv4 or IPv6 address, no port, no prefix.
pub fn parse_ip(s: &str) -> Result<IpAddr, String> {
    s.trim()
        .parse::<IpAddr>()
        .map(canonical)
        .map_err(|_| format!("{s:?} is not an IP address"))
}

/// Whether `ip` is in any of `networks`.
pub fn allowed(networks: &[IpNet], ip: IpAddr) -> bool {
    networks.iter().any(|n| n.contains(ip))
}

/// The address a request comes from (see the [module docs](self)): `peer` itself, unless it is
/// in `trusted_proxies`; then the nearest `X-Forwarded-For` entry (the header's values in the
/// order received, each possibly a comma-separated list) that is not a trusted proxy.
pub fn client_address<'a>(
    peer: IpAddr,
    forwarded_for: impl IntoIterator<Item = &'a str>,
    trusted_proxies: &[IpNet],
) -> IpAddr {
    let peer = canonical(peer);
    if !allowed(trusted_proxies, peer) {
        return peer;
    }
    let mut chain: Vec<IpAddr> = Vec::new();
    for value in forwarded_for {
        for part in value.split(',') {
            match part.trim().parse::<IpAddr>() {
                Ok(ip) => chain.push(canonical(ip)),
                // A malformed chain: believe nothing beyond the proxy.
                Err(_) => return peer,
            }
        }
    }
    let mut source = peer;
    for ip in chain.into_iter().rev() {
        source = ip;
        if !allowed(trusted_proxies, ip) {
            break;
        }
    }
    source
}

/// Parses a list of networks (`--trusted-proxies`, an adapter's `trusted_proxies`), naming the
/// first entry that is not one.
pub fn parse_networks<S: AsRef<str>>(list: &[S]) -> Result<Vec<IpNet>, String> {
    list.iter().map(|s| s.as_ref().parse()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn strict_parsing_names_the_intended_network() {
        assert_eq!(net("10.0.0.0/8").to_string(), "10.0.0.0/8");
        assert_eq!(net(" 192.0.2.7 ").to_string(), "192.0.2.7/32");
        assert_eq!(net("::ffff:10.0.0.0/8").to_string(), "10.0.0.0/8");
        assert_eq!(net("2001:DB8::/32").to_string(), "2001:db8::/32");
        let err = "10.0.0.1/8".parse::<IpNet>().unwrap_err();
        assert!(err.contains("10.0.0.0/8"), "{err}");
        for bad in [
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0.0/08",
            "10.0.0.0/+8",
            "10/8",
            "x",
            "",
            "::/129",
        ] {
            assert!(bad.parse::<IpNet>().is_err(), "{bad}");
        }
    }

    #[test]
    fn mapped_addresses_are_ipv4() {
        assert!(net("10.0.0.0/8").contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!net("::/0").contains("10.1.2.3".parse().unwrap()));
        assert!(net("0.0.0.0/0").contains("10.1.2.3".parse().unwrap()));
    }
}
