//! An independent RFC 6238 implementation (aws-lc-rs HMAC, not the server's totp-rs), so the
//! tests check the server against the standard rather than against itself.

use aws_lc_rs::hmac;

/// RFC 4648 base32 (padding optional) to bytes; other characters are skipped.
#[must_use]
pub fn base32(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut value, mut out) = (0u32, 0u32, Vec::new());
    for c in text.trim_end_matches('=').bytes() {
        let Some(index) = ALPHABET.iter().position(|a| *a == c.to_ascii_uppercase()) else {
            continue;
        };
        value = (value << 5) | u32::try_from(index).unwrap_or(0);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((value >> bits) & 0xff).unwrap_or(0));
        }
    }
    out
}

/// TOTP with SHA-1 and 6 digits for the 30-second step containing `unix_time`.
#[must_use]
pub fn totp(secret: &[u8], unix_time: u64) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let tag = hmac::sign(&key, &(unix_time / 30).to_be_bytes());
    let mac = tag.as_ref();
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let binary = u32::from_be_bytes([
        mac[offset] & 0x7f,
        mac[offset + 1],
        mac[offset + 2],
        mac[offset + 3],
    ]);
    format!("{:06}", binary % 1_000_000)
}

/// Seconds since the Unix epoch.
#[must_use]
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}
