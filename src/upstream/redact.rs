use url::Url;

/// The URL with its credentials (user name and password) replaced by `***`,
/// for logs and error messages. One rule for every URL larder shows: the
/// configuration's text form (which also covers URLs that do not parse).
pub fn redact(url: &Url) -> String {
    crate::config::redact_url(url.as_str())
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
