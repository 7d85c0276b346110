//! Golden files: an output that is a contract (the CLI's JSON lines, the admin API's bodies)
//! compared byte for byte with the copy kept in the repository. `HOTCONF_BLESS=1` rewrites the
//! copies from the current output instead, for a change that is meant.

use std::path::Path;

/// Panics when `actual` differs from the file at `path` (with both texts), unless
/// `HOTCONF_BLESS=1`, which writes `actual` there.
pub fn assert_golden(path: impl AsRef<Path>, actual: &str) {
    let path = path.as_ref();
    if std::env::var_os("HOTCONF_BLESS").is_some_and(|v| v == "1") {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("the golden directory");
        }
        std::fs::write(path, actual).expect("the golden file written");
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "no golden file {} ({e}): run the test with HOTCONF_BLESS=1 to write it",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "{} changed: a contract's output is not the same byte for byte (HOTCONF_BLESS=1 \
         rewrites it if the change is meant)\n--- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    );
}

/// `text` (JSON, as sent) with the value of every set timestamp field (`"applied_at"`,
/// `"last_change"`) replaced by `"<time>"`, the rest byte for byte, so that an answer can be
/// compared across runs.
pub fn without_times(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let next = ["\"applied_at\":\"", "\"last_change\":\""]
            .iter()
            .filter_map(|field| rest.find(field).map(|at| (at, field.len())))
            .min();
        let Some((at, len)) = next else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..at + len]);
        rest = &rest[at + len..];
        let end = rest.find('"').unwrap_or(rest.len());
        out.push_str("<time>");
        rest = &rest[end..];
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_replaced_and_nothing_else() {
        assert_eq!(
            super::without_times(
                r#"{"applied_at":"2026-01-01T00:00:00Z","a":1,"last_change":null}"#
            ),
            r#"{"applied_at":"<time>","a":1,"last_change":null}"#
        );
    }
}
