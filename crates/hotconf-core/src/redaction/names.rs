//! Which names are secret: the word rules a key (`db_password`), an environment variable's
//! name (`DB_PASSWORD`) or a connection-string field (`Pwd`) is checked against.

/// The words matched anywhere inside a name, case-insensitively and ignoring everything but
/// letters and digits (`apiKey`, `api-key`, `API_KEY` and `x_apikey2` all hold `apikey`).
/// Each is long or rare enough that it is not part of an ordinary word.
pub(crate) const ANYWHERE: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "credential",
    "private_key",
    "api_key",
    "access_key",
    "signing_key",
    "encryption_key",
    "ssh_key",
    "session_key",
    "connection_string",
    "authorization",
    "bearer",
    "jwt",
];

/// The short words matched only as a whole word of a name: `db_pass`, `dbPass` and
/// `PASS_2` hold `pass`; `compass`, `bypass` and `passenger` do not. Words are split at
/// anything but a letter or digit, at a lower-to-upper case change (`dbPass`), before the last
/// capital of a run followed by a lower-case letter (`DBPass`), and between letters and digits.
pub(crate) const WHOLE: &[&str] = &["pass", "pwd", "auth", "dsn"];

/// The word rules of a policy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct NameRules {
    /// Matched inside the name with only its letters and digits kept, lowercase.
    pub(crate) anywhere: Vec<String>,
    /// Matched against each whole word of the name, lowercase.
    pub(crate) whole: Vec<String>,
}

impl NameRules {
    pub(crate) fn defaults() -> Self {
        NameRules {
            anywhere: ANYWHERE.iter().map(|w| compact(w)).collect(),
            whole: WHOLE.iter().map(|w| compact(w)).collect(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.anywhere.is_empty() && self.whole.is_empty()
    }

    /// Whether `name` holds one of the words. Linear in the name's length (the words are few
    /// and short).
    pub(crate) fn matches(&self, name: &str) -> bool {
        if self.is_empty() {
            return false;
        }
        let compact = compact(name);
        self.anywhere.iter().any(|w| compact.contains(w.as_str()))
            || (!self.whole.is_empty()
                && split_words(name)
                    .iter()
                    .any(|word| self.whole.contains(word)))
    }
}

/// `name` with only its letters and digits, lowercase.
pub(crate) fn compact(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The words of `name`, lowercase (see [`WHOLE`] for where it splits).
pub(crate) fn split_words(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            continue;
        }
        if let Some(&prev) = i.checked_sub(1).and_then(|p| chars.get(p)) {
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            let boundary = (prev.is_lowercase() && c.is_uppercase())
                || (prev.is_uppercase() && c.is_uppercase() && next_lower)
                || (prev.is_alphanumeric() && prev.is_numeric() != c.is_numeric());
            if boundary && !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
        }
        word.extend(c.to_lowercase());
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_at_case_digits_and_separators() {
        assert_eq!(split_words("dbPass"), ["db", "pass"]);
        assert_eq!(split_words("DBPass2"), ["db", "pass", "2"]);
        assert_eq!(split_words("DB_PASSWORD"), ["db", "password"]);
        assert_eq!(split_words("x-auth.url"), ["x", "auth", "url"]);
        assert_eq!(split_words("compass"), ["compass"]);
        assert!(split_words("--").is_empty());
    }

    #[test]
    fn whole_words_need_a_boundary() {
        let rules = NameRules::defaults();
        for name in [
            "db_pass",
            "dbPass",
            "PASS",
            "pwd",
            "auth",
            "sentry_dsn",
            "passphrase",
        ] {
            assert!(rules.matches(name), "{name}");
        }
        for name in [
            "compass",
            "bypass",
            "passenger",
            "author",
            "oauth_client_id",
            "cwd",
        ] {
            assert!(!rules.matches(name), "{name}");
        }
    }
}
