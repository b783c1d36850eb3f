//! `sha256sum`-style checksum files (`SHA256SUMS`): `<hex>  <name>` or
//! `<hex> *<name>` per line, as `sha256sum` writes them.

use super::Sha256Hex;

/// The digest `sums` lists for `filename`, if any. Lines that do not parse
/// are ignored (such files often carry comments or signatures).
pub fn sha256_for(sums: &str, filename: &str) -> Option<Sha256Hex> {
    sums.lines().find_map(|line| {
        let (hex, rest) = line.trim_end().split_once(char::is_whitespace)?;
        let name = rest.trim_start();
        let name = name.strip_prefix('*').unwrap_or(name);
        let name = name.strip_prefix("./").unwrap_or(name);
        (name == filename)
            .then(|| Sha256Hex::parse(hex).ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_entries() {
        let a = "a".repeat(64);
        let b = "B".repeat(64);
        let sums = format!(
            "# signed\n{a}  foo-1.0.tar.gz\n{b} *bar.zip\nnot a line\n{a}  ./dot.tgz\n{a}  has space.tgz\n"
        );
        assert_eq!(sha256_for(&sums, "foo-1.0.tar.gz").unwrap().as_str(), a);
        assert_eq!(
            sha256_for(&sums, "bar.zip").unwrap().as_str(),
            "b".repeat(64)
        );
        assert_eq!(sha256_for(&sums, "dot.tgz").unwrap().as_str(), a);
        assert_eq!(sha256_for(&sums, "has space.tgz").unwrap().as_str(), a);
        assert!(sha256_for(&sums, "missing.tgz").is_none());
        assert!(sha256_for(&sums, "foo-1.0").is_none());
    }
}
