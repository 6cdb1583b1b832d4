//! The cluster secret, shared by the LB and its nodes, and the two
//! HMAC-SHA256 challenge-responses built on it (no I/O):
//!
//! - **Registration.** A node sends `REGISTER:<host>:<port>:<cores>`; the
//!   LB answers `CHALLENGE:<nonce>` with a fresh random nonce; the node
//!   answers `AUTH:<mac>`, the MAC over (purpose, nonce, address, cores).
//!   The LB admits the address only if the MAC verifies.
//! - **The probe.** The LB sends `NODESTAT <nonce> <host:port>`; the node
//!   answers its stats line followed by ` mac=<hex>`, the MAC over
//!   (purpose, nonce, address, stats). The LB counts the node healthy only
//!   if it verifies.
//!
//! Why this holds up: the secret never crosses the wire; the nonce is
//! chosen by the verifier from the OS's random source, so a recorded
//! answer is worthless in the next exchange; every MAC covers a purpose
//! label, so a probe answer cannot stand in for a registration or the other
//! way round; and it covers the address, so a node's answer for itself
//! cannot vouch for a different address. Every field is length-prefixed
//! before it is MACed, so no two field lists hash alike.
//!
//! The protocol is described for operators in docs/SECURITY.md.

use crate::addr::HostPort;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The reply word an LB sends to a REGISTER when it holds a secret.
pub const CHALLENGE: &str = "CHALLENGE";
/// The request word a node answers a challenge with.
pub const AUTH: &str = "AUTH";
/// The name of the flag both roles read the secret from.
pub const FLAG: &str = "--cluster-secret-file";
/// Bytes in a nonce.
pub const NONCE_LEN: usize = 32;
/// Bytes in a MAC.
pub const MAC_LEN: usize = 32;

type HmacSha256 = Hmac<Sha256>;

/// The shared secret. Its `Debug` never shows the bytes, so a logged
/// config or a panic message cannot leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterSecret(Arc<[u8]>);

impl fmt::Debug for ClusterSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClusterSecret(<redacted>)")
    }
}

/// Why a secret file was refused.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The file cannot be read.
    #[error("{FLAG} {path}: cannot read it: {source}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The file holds nothing (after one trailing newline is trimmed).
    #[error("{FLAG} {path}: the file is empty; put a long random secret in it")]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

impl ClusterSecret {
    /// The secret in `path`: its bytes, less one trailing newline (`\n` or
    /// `\r\n`), so `echo secret > file` works.
    ///
    /// # Errors
    /// [`SecretError`] when the file cannot be read or is empty.
    pub fn load(path: &Path) -> Result<ClusterSecret, SecretError> {
        let bytes = std::fs::read(path).map_err(|source| SecretError::Unreadable {
            path: path.to_path_buf(),
            source,
        })?;
        let bytes = match bytes.strip_suffix(b"\n") {
            Some(b) => b.strip_suffix(b"\r").unwrap_or(b),
            None => &bytes,
        };
        if bytes.is_empty() {
            return Err(SecretError::Empty {
                path: path.to_path_buf(),
            });
        }
        Ok(ClusterSecret(bytes.into()))
    }

    /// A MAC for `purpose` over `fields`.
    fn mac(&self, purpose: Purpose, fields: &[&[u8]]) -> HmacSha256 {
        // HMAC takes a key of any length, so this cannot fail.
        let mut m = HmacSha256::new_from_slice(&self.0).expect("HMAC accepts any key length");
        for f in std::iter::once(purpose.label()).chain(fields.iter().copied()) {
            m.update(&(f.len() as u32).to_be_bytes());
            m.update(f);
        }
        m
    }
}

/// A clap value parser for `--cluster-secret-file PATH`: loads the file at
/// flag-parse time, so a bad file stops the role before it binds anything.
///
/// # Errors
/// The [`SecretError`] message (it names the flag and the path).
pub fn parse_secret_file(s: &str) -> Result<ClusterSecret, String> {
    ClusterSecret::load(Path::new(s)).map_err(|e| e.to_string())
}

/// What a MAC is for; part of what is MACed.
#[derive(Clone, Copy)]
enum Purpose {
    Register,
    Probe,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::Register => b"cachectl register v1",
            Purpose::Probe => b"cachectl probe v1",
        }
    }
}

/// Why an answer to a challenge was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The answer carries no MAC (a node without the secret).
    #[error("no MAC in the reply (is the node started with {FLAG}?)")]
    Missing,
    /// The MAC is not 64 hex digits.
    #[error("the MAC is not {} hex digits", MAC_LEN * 2)]
    Malformed,
    /// The MAC does not verify: another secret, a stale nonce, or another
    /// address.
    #[error("the MAC does not verify (wrong cluster secret, or a replayed answer)")]
    Mismatch,
}

/// A fresh random nonce from the OS.
///
/// # Errors
/// The OS random source failed (the caller refuses the exchange).
pub fn nonce() -> io::Result<[u8; NONCE_LEN]> {
    let mut n = [0u8; NONCE_LEN];
    getrandom::getrandom(&mut n).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(n)
}

/// Lower-case hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// The bytes of a hex string (either case); `None` if it is not hex.
pub fn from_hex(s: &str) -> Option<Vec<u8>> {
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

fn check(m: HmacSha256, mac_hex: &str) -> Result<(), AuthError> {
    let mac = from_hex(mac_hex)
        .filter(|m| m.len() == MAC_LEN)
        .ok_or(AuthError::Malformed)?;
    // verify_slice compares in constant time.
    m.verify_slice(&mac).map_err(|_| AuthError::Mismatch)
}

fn register_mac(
    s: &ClusterSecret,
    nonce: &[u8],
    addr: &HostPort,
    cores: u32,
    core_ports: &[u16],
) -> HmacSha256 {
    let addr = addr.to_string();
    let cores = cores.to_string();
    // Cluster mode's core ports are where clients are sent: a registration
    // whose ports were changed on the way must not verify.
    let ports: Vec<String> = core_ports.iter().map(u16::to_string).collect();
    let ports = ports.join(",");
    s.mac(
        Purpose::Register,
        &[nonce, addr.as_bytes(), cores.as_bytes(), ports.as_bytes()],
    )
}

/// The node's answer to a registration challenge: the hex MAC over the
/// LB's nonce, the address it registers, its cores and (cluster mode) its
/// cores' ports.
pub fn register_proof(
    s: &ClusterSecret,
    nonce: &[u8],
    addr: &HostPort,
    cores: u32,
    core_ports: &[u16],
) -> String {
    to_hex(
        &register_mac(s, nonce, addr, cores, core_ports)
            .finalize()
            .into_bytes(),
    )
}

/// Check a node's [`register_proof`] for the nonce this LB sent.
///
/// # Errors
/// [`AuthError::Malformed`] or [`AuthError::Mismatch`].
pub fn check_register_proof(
    s: &ClusterSecret,
    nonce: &[u8],
    addr: &HostPort,
    cores: u32,
    core_ports: &[u16],
    proof: &str,
) -> Result<(), AuthError> {
    check(register_mac(s, nonce, addr, cores, core_ports), proof)
}

/// The key that ends a signed NODESTAT line.
const MAC_KEY: &str = " mac=";

fn probe_mac(s: &ClusterSecret, nonce: &[u8], addr: &str, stats: &str) -> HmacSha256 {
    s.mac(Purpose::Probe, &[nonce, addr.as_bytes(), stats.as_bytes()])
}

/// A node's signed NODESTAT line: `stats` then ` mac=<hex>`, the MAC over
/// the probe's nonce, the address it probed and `stats`.
pub fn sign_stats(s: &ClusterSecret, nonce: &[u8], addr: &str, stats: &str) -> String {
    let mac = probe_mac(s, nonce, addr, stats).finalize().into_bytes();
    format!("{stats}{MAC_KEY}{}", to_hex(&mac))
}

/// Check a signed NODESTAT line for the probe's nonce and address; returns
/// the stats part.
///
/// # Errors
/// [`AuthError`]: no MAC, a malformed one, or one that does not verify.
pub fn check_stats<'a>(
    s: &ClusterSecret,
    nonce: &[u8],
    addr: &str,
    line: &'a str,
) -> Result<&'a str, AuthError> {
    let (stats, mac) = line.rsplit_once(MAC_KEY).ok_or(AuthError::Missing)?;
    check(probe_mac(s, nonce, addr, stats), mac)?;
    Ok(stats)
}

/// Whether `probed` (the address an LB says it is probing) names this
/// node: its `--advertise` address if it has one, else its bound address
/// (any host at the bound port when it is bound to a wildcard, which it
/// cannot tell apart; docs/SECURITY.md says to advertise in that case).
pub fn names_me(probed: &HostPort, bound: SocketAddr, advertise: Option<&HostPort>) -> bool {
    let same_host = |a: &str, b: &str| match (a.parse::<IpAddr>(), b.parse::<IpAddr>()) {
        (Ok(x), Ok(y)) => x.to_canonical() == y.to_canonical(),
        _ => a.eq_ignore_ascii_case(b),
    };
    match advertise {
        Some(a) => a.port == probed.port && same_host(&a.host, &probed.host),
        None => {
            probed.port == bound.port()
                && (bound.ip().is_unspecified() || same_host(&bound.ip().to_string(), &probed.host))
        }
    }
}

/// The node's answer to `NODESTAT <nonce> <host:port>`: `stats` signed
/// with [`sign_stats`], or unsigned when the node has no secret (the LB
/// then refuses it, naming the flag).
///
/// # Errors
/// The error reply's text: a nonce that is not 32 to 128 hex digits, an
/// address that is not `host:port`, or one that does not name this node
/// (see [`names_me`]) — so the node never vouches for an address a
/// relaying impostor holds.
pub fn answer_probe(
    secret: Option<&ClusterSecret>,
    stats: String,
    nonce: &[u8],
    addr: &[u8],
    bound: SocketAddr,
    advertise: Option<&HostPort>,
) -> Result<String, String> {
    let hex_ok = (32..=128).contains(&nonce.len()) && nonce.iter().all(u8::is_ascii_hexdigit);
    if !hex_ok {
        return Err("ERR NODESTAT nonce must be 32 to 128 hex digits".into());
    }
    let shown = String::from_utf8_lossy(addr);
    let probed = std::str::from_utf8(addr)
        .ok()
        .and_then(|a| HostPort::parse(a).ok())
        .ok_or_else(|| {
            format!(
                "ERR NODESTAT address '{}' is not HOST:PORT",
                one_line(&shown)
            )
        })?;
    if !names_me(&probed, bound, advertise) {
        return Err(format!(
            "ERR NODESTAT probed {probed}, which is not this node (it is {})",
            advertise.map_or(bound.to_string(), ToString::to_string)
        ));
    }
    let Some(secret) = secret else {
        return Ok(stats);
    };
    // Both sides MAC the nonce's hex text as sent, so no decoding differs.
    Ok(sign_stats(secret, nonce, &probed.to_string(), &stats))
}

fn one_line(s: &str) -> String {
    s.chars()
        .take(64)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// A freshly generated secret in a private temporary file (the directory
/// mode 0700, the file 0600), removed on drop: what `cachectl cluster` and
/// the bench's local cluster hand their children.
#[derive(Debug)]
pub struct SecretFile {
    dir: PathBuf,
    path: PathBuf,
}

impl SecretFile {
    /// Make the directory and write 32 random bytes, hex-encoded.
    ///
    /// # Errors
    /// The random source, the directory or the file failed.
    pub fn generate() -> io::Result<SecretFile> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        let tag = to_hex(&nonce()?[..8]);
        let dir = std::env::temp_dir().join(format!("cachectl-{}-{tag}", std::process::id()));
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        let path = dir.join("cluster-secret");
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        f.write_all(format!("{}\n", to_hex(&nonce()?)).as_bytes())?;
        Ok(SecretFile { dir, path })
    }

    /// The file, for `--cluster-secret-file`.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SecretFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        let _ = std::fs::remove_dir(&self.dir);
    }
}

#[cfg(test)]
mod tests;
