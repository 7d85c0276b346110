//! Secrets recognised by a value rather than by its key: a string that carries a credential
//! whatever the key holding it is called. Each check is one pass over the string.

use super::names::NameRules;

/// Whether the string `value` carries a credential:
/// - a URL with user information (`postgres://app:hunter2@db/app`, `https://TOKEN@host`);
/// - a `NAME=value` or `NAME: value` field whose name is secret (`Server=db;Password=…`,
///   `--db-password=…`, `https://h/?token=…`, `Authorization: Bearer …`);
/// - an HTTP credential (`Bearer …`, `Basic …`), a JSON Web Token (`eyJ….….…`), or a PEM
///   private key (`-----BEGIN … PRIVATE KEY-----`).
pub(crate) fn carries_credential(value: &str, names: &NameRules) -> bool {
    url_userinfo(value)
        || secret_field(value, names)
        || auth_scheme(value)
        || jwt(value)
        || value.contains("PRIVATE KEY-----")
}

/// A `scheme://…@host` URL anywhere in the string.
fn url_userinfo(value: &str) -> bool {
    value.match_indices("://").any(|(i, _)| {
        let authority = &value[i + 3..];
        let end = authority
            .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace())
            .unwrap_or(authority.len());
        authority[..end].contains('@')
    })
}

/// A field `NAME=value` or `NAME: value` whose name holds a secret word. The name is the run
/// before the `=` (or `:` and a space) back to a separator (`;`, `&`, `?`, `,`, a quote, the
/// start or a previous field), without leading dashes: every byte is looked at a bounded number
/// of times.
fn secret_field(value: &str, names: &NameRules) -> bool {
    let bytes = value.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let assigns =
            b == b'=' || (b == b':' && bytes.get(i + 1).is_some_and(u8::is_ascii_whitespace));
        if assigns {
            let name = value[start..i].trim().trim_start_matches('-');
            if !name.is_empty() && names.matches(name) {
                return true;
            }
        }
        if assigns || matches!(b, b';' | b'&' | b'?' | b',' | b'"' | b'\'' | b'\n') {
            start = i + 1;
        }
    }
    false
}

/// An `Authorization` header's value: `Bearer …`, `Basic …`, `Token …`.
fn auth_scheme(value: &str) -> bool {
    let value = value.trim_start();
    ["bearer ", "basic ", "token "].iter().any(|scheme| {
        value
            .get(..scheme.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(scheme))
            && value.len() > scheme.len()
    })
}

/// A JSON Web Token: three base64url parts, the first a JSON object (`eyJ`).
fn jwt(value: &str) -> bool {
    let value = value.trim();
    let base64url = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'=')
    };
    value.starts_with("eyJ") && {
        let parts: Vec<&str> = value.splitn(4, '.').collect();
        parts.len() == 3 && parts.iter().all(|p| base64url(p))
    }
}

/// Whether a list item is a command-line flag whose next item is its secret value
/// (`["--password", "hunter2"]`): a dash-led name, no `=`, holding a secret word.
pub(crate) fn secret_flag(item: &str, names: &NameRules) -> bool {
    let name = item.trim_start_matches('-');
    item.starts_with('-') && !name.is_empty() && !item.contains('=') && names.matches(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_found_in_values() {
        let names = NameRules::defaults();
        for value in [
            "postgres://app:hunter2@db/app",
            "see redis://:hunter2@cache:6379/0",
            "https://ghp_abc@github.com/org/repo",
            "Server=db;Database=app;User Id=sa;Password=hunter2;",
            "host=db user=app pwd=hunter2",
            "--password=hunter2",
            "--db-pass=hunter2",
            "https://api.example/v1?user=a&token=hunter2",
            "Authorization: Bearer abc",
            "Bearer abc.def",
            "basic dXNlcjpwYXNz",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln",
            "-----BEGIN RSA PRIVATE KEY-----\nMIIE…",
        ] {
            assert!(carries_credential(value, &names), "{value}");
        }
        for value in [
            "postgres://db:5432/app",
            "https://example.com/a@b",
            "git@github.com:org/repo.git",
            "user@example.com",
            "a=b;c=d",
            "--verbose",
            "compass=north",
            "Note: the port",
            "bearer",
            "1.2.3",
            "-----BEGIN CERTIFICATE-----",
        ] {
            assert!(!carries_credential(value, &names), "{value}");
        }
    }

    #[test]
    fn flags_whose_value_follows() {
        let names = NameRules::defaults();
        assert!(secret_flag("--password", &names));
        assert!(secret_flag("-pwd", &names));
        assert!(!secret_flag("--password=x", &names));
        assert!(!secret_flag("--port", &names));
        assert!(!secret_flag("password", &names));
    }
}
