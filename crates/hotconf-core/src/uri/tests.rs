//! Tests of source URIs and their parameters.

use std::time::Duration;

use super::*;
use crate::format::Format;
use crate::target::Mode;

fn parse(s: &str) -> SourceUri {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[test]
fn files_and_env() {
    for s in [
        "./app.toml",
        "app.toml",
        "/etc/app.toml",
        "file:./app.toml",
        "file:/etc/app/",
        "./a:b.toml",
    ] {
        assert_eq!(parse(s).scheme, "file", "{s}");
    }
    assert_eq!(
        parse("file:/etc/app/?mode=documents").param("mode"),
        Some("documents")
    );
    assert_eq!(parse("C:\\app.toml").scheme, "file");
    let env = parse("env:APP_");
    assert_eq!((env.scheme.as_str(), env.path.as_str()), ("env", "APP_"));
    assert_eq!(env.to_string(), "env:APP_");
}

#[test]
fn servers_ipv6_params_and_default_ports() {
    let u = parse("consul://[::1]:8501/app/config?mode=key&format=json");
    assert_eq!(u.endpoints, ["[::1]:8501"]);
    assert_eq!(
        (u.path.as_str(), u.param("format")),
        ("app/config", Some("json"))
    );
    let u = parse("nacos://127.0.0.1/app.yaml?group=G");
    assert_eq!(u.endpoints, ["127.0.0.1"]);
    assert_eq!(u.one_endpoint(8848).unwrap(), "127.0.0.1:8848");
    let u = parse("ETCD://[::1],h:1,h/x");
    assert_eq!(u.scheme, "etcd");
    assert_eq!(
        u.endpoints_with_port(2379).unwrap(),
        ["[::1]:2379", "h:1", "h:2379"]
    );
    assert!(u.one_endpoint(2379).is_err());
    let u = parse("nacos://127.0.0.1:8848/my%20app.yaml?namespace=n%2F1");
    assert_eq!(
        (u.path.as_str(), u.param("namespace")),
        ("my app.yaml", Some("n/1"))
    );
    // Any scheme parses; an empty authority names no server.
    let custom = parse("my+kv:///app?x=1");
    assert_eq!(
        (custom.scheme.as_str(), custom.path.as_str()),
        ("my+kv", "app")
    );
    assert!(custom.endpoints.is_empty());
    assert_eq!(custom.to_string(), "my+kv:///app?x=1");
    assert!(custom.endpoints_with_port(1).is_err());
}

#[test]
fn credentials_never_print() {
    let u = parse("etcd://root:p%40ss@127.0.0.1:2379/app?token=abc&mode=prefix");
    assert_eq!(
        u.password.as_ref().map(|p| p.expose().as_str()),
        Some("p@ss")
    );
    assert_eq!(u.secret_params["token"].expose(), "abc");
    let mut query = u.query();
    query.get("mode");
    let unknown = query.finish().unwrap_err();
    assert!(
        unknown.to_string().contains("unknown parameter `token`"),
        "{unknown}"
    );
    for shown in [
        u.to_string(),
        format!("{u:?}"),
        format!("{:?}", u.password),
        format!("{:?}", u.query()),
        unknown.to_string(),
        format!("{unknown:?}"),
    ] {
        assert!(
            !shown.contains("p@ss") && !shown.contains("abc") && !shown.contains("p%40ss"),
            "{shown}"
        );
    }
    let err = "etcd://root:hunter2@127.0.0.1:notaport/"
        .parse::<SourceUri>()
        .unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
    assert!(err.to_string().contains("bad port"), "{err}");
}

#[test]
fn parse_errors_print_no_credential() {
    for (input, secret) in [
        // The parser splits user info at the last `@`: so does the redaction.
        ("etcd://app:p@ss@127.0.0.1:99999/x", "ss"),
        ("etcd://app:pa/ss@127.0.0.1/x", "pa/ss"),
        ("etcd:app:hunter2@127.0.0.1/x", "hunter2"),
        ("consul://127.0.0.1:8500/app?token=hunter2&x=%zz", "hunter2"),
        ("consul://127.0.0.1:8500/app?x=%zz&Token=hunter2", "hunter2"),
        ("nacos://127.0.0.1/app?%70assword=hunter2&bad=%", "hunter2"),
        (
            "nacos://127.0.0.1/app?secret=hunter2&access_key=a1b2&bad=%",
            "a1b2",
        ),
        ("etcd://127.0.0.1:1,/x?password=hunter2", "hunter2"),
        ("custom://u:hunter2@h:1:2/x", "hunter2"),
    ] {
        let err = input.parse::<SourceUri>().unwrap_err().to_string();
        assert!(!err.contains(secret), "{input}: {err}");
        assert!(err.contains("***"), "{input}: {err}");
    }
    // A file path with an `@` is no credential.
    let err = "./my@file.json?x=%zz".parse::<SourceUri>().unwrap_err();
    assert!(err.to_string().contains("./my@file.json"), "{err}");
}

#[test]
fn bad_uris() {
    for s in [
        "",
        "etcd:127.0.0.1",
        "etcd://,/x",
        "nacos://h/%zz",
        "nacos://h/%e9",
        "nacos://[::1/x",
        "nacos://[::1]x/x",
        "nacos://:1/x",
    ] {
        assert!(s.parse::<SourceUri>().is_err(), "{s}");
    }
}

#[test]
fn shared_parameters() {
    let target = |s: &str| {
        let uri = parse(s);
        let mut query = uri.query();
        let target = query.key_space();
        target.and_then(|t| query.finish().map(|()| t))
    };
    let t = target("kv://h/app?typed").unwrap();
    assert_eq!(
        (t.path.as_str(), t.mode, t.typed),
        ("app/", Mode::Prefix, true)
    );
    assert_eq!(
        target("kv://h/app/c.yaml").unwrap().mode,
        Mode::Key(Format::Yaml)
    );
    assert_eq!(
        target("kv://h/app/c?mode=key&format=json").unwrap().mode,
        Mode::Key(Format::Json)
    );
    assert_eq!(
        target("kv://h/app/c.yaml?mode=prefix").unwrap().path,
        "app/c.yaml/"
    );
    for (bad, says) in [
        ("kv://h/app/c?mode=key", "key mode needs a format"),
        (
            "kv://h/app?mode=bogus",
            "unknown mode `bogus` (prefix, key)",
        ),
        ("kv://h/app?format=nope", "bad format `nope`"),
        ("kv://h/app?typed=maybe", "typed is `true` or `false`"),
        ("kv://h/?mode=prefix", "give a prefix or a key"),
        ("kv://h/app?mdoe=prefix", "unknown parameter `mdoe`"),
    ] {
        let err = target(bad).unwrap_err().to_string();
        assert!(err.contains(says), "{bad}: {err}");
    }

    let uri = parse("kv://h/x?ca=/ca.pem&cert=/c.pem&key=/k.pem&t=2s&z=0s&n=5");
    let mut q = uri.query();
    let tls = q.tls().unwrap().unwrap();
    assert_eq!(tls.ca.as_deref(), Some(std::path::Path::new("/ca.pem")));
    assert!(tls.identity.is_some());
    assert_eq!(
        q.positive_duration("t").unwrap(),
        Some(Duration::from_secs(2))
    );
    assert!(q.positive_duration("z").is_err());
    assert_eq!(q.parse::<u16>("n").unwrap(), Some(5));
    assert_eq!(q.duration("absent").unwrap(), None);
    q.finish().unwrap();
    assert!(parse("kv://h/x?cert=/c.pem").query().tls().is_err());
    assert!(parse("kv://h/x?tls=true").query().tls().unwrap().is_some());
    assert!(parse("kv://h/x").query().tls().unwrap().is_none());
}

#[test]
fn credentials_in_any_case_and_unknown_values_never_print() {
    // `?Secret=` once fell through to the printed parameters and its value reached the
    // "unknown parameter" error.
    for (uri, asked) in [
        ("apollo://127.0.0.1:8080/app?Secret=s3cr3t-a", "secret"),
        ("consul://127.0.0.1:8500/app?Token=s3cr3t-b", "token"),
        ("consul://127.0.0.1:8500/app?TOKEN=s3cr3t-c", "token"),
    ] {
        let u = parse(uri);
        let mut query = u.query();
        assert!(
            query
                .secret(asked)
                .is_some_and(|s| s.expose().starts_with("s3cr3t-")),
            "{uri}: the credential is found whatever its case"
        );
        assert!(query.finish().is_ok(), "{uri}");
        assert!(!u.to_string().contains("s3cr3t"), "{u}");
    }
    for uri in [
        "consul://127.0.0.1:8500/app?tokne=s3cr3t-d",
        "consul://127.0.0.1:8500/app?api_token=s3cr3t-e",
        "consul://127.0.0.1:8500/app?colour=s3cr3t-f",
    ] {
        let u = parse(uri);
        let error = u.query().finish().unwrap_err();
        for shown in [error.to_string(), format!("{error:?}")] {
            assert!(shown.contains("unknown parameter"), "{shown}");
            assert!(!shown.contains("s3cr3t"), "{shown}");
        }
    }
    assert_eq!(
        parse("consul://h/app?api_token=x&mode=key").to_string(),
        "consul://h/app?api_token=***&mode=key"
    );
}
