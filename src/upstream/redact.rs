use url::Url;

/// The URL with any password (and the user name that goes with it) replaced
/// by `***`, for logs and error messages.
pub fn redact(url: &Url) -> String {
    if url.password().is_none() && url.username().is_empty() {
        return url.to_string();
    }
    let mut shown = url.clone();
    // Setting credentials only fails for URLs that cannot have them, and
    // those have none to hide.
    let _ = shown.set_username("***");
    let _ = shown.set_password(None);
    shown.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_user_and_password() {
        let cases = [
            (
                "http://127.0.0.1:8080/simple/",
                "http://127.0.0.1:8080/simple/",
            ),
            (
                "http://u:secret@127.0.0.1/simple/",
                "http://***@127.0.0.1/simple/",
            ),
            ("http://token@127.0.0.1/x", "http://***@127.0.0.1/x"),
        ];
        for (raw, shown) in cases {
            assert_eq!(redact(&Url::parse(raw).unwrap()), shown);
        }
    }
}
