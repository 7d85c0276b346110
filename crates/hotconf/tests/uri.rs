//! `provider_from_uri`: every built-in scheme of the enabled backends, schemes registered by an
//! application, and errors that name the scheme (or the feature) and never a credential.

use hotconf::provider::SourceUri;
use hotconf::{MemoryProvider, Provider};

/// Every text an error can be shown as: Display, Debug and the cause chain.
fn shown(err: &hotconf::Error) -> String {
    let mut text = format!("{err} {err:?}");
    let mut cause = std::error::Error::source(err);
    while let Some(c) = cause {
        text.push_str(&format!(" {c} {c:?}"));
        cause = c.source();
    }
    text
}

#[test]
fn every_enabled_built_in_scheme_dispatches() {
    let mut cases: Vec<(&str, &str)> = Vec::new();
    #[cfg(feature = "file")]
    cases.extend([
        ("./app.toml", "file:./app.toml"),
        ("file:/etc/app/?mode=keys&typed=true", "file:/etc/app/"),
    ]);
    #[cfg(feature = "env")]
    cases.push(("env:APP_", "env:APP_"));
    #[cfg(feature = "etcd")]
    cases.push((
        "etcd://root:s3cr3t@h1,h2:1/app?typed=true",
        "etcd://root@h1:2379,h2:1/app/?mode=prefix",
    ));
    #[cfg(feature = "consul")]
    cases.push((
        "consul://h/app/config.yaml?token=s3cr3t",
        "consul://h:8500/app/config.yaml?mode=key&format=yaml",
    ));
    #[cfg(feature = "nacos")]
    cases.push((
        "nacos://nacos:s3cr3t@h/app.yaml?group=G",
        "nacos://nacos@h:8848/app.yaml?group=G",
    ));
    #[cfg(feature = "apollo")]
    cases.push((
        "apollo://h/app/application?secret=s3cr3t&label=canary",
        "apollo://h:8080/app/application?cluster=default&label=canary",
    ));
    #[cfg(feature = "http")]
    cases.push((
        "https://app:s3cr3t@h/app.yaml?profile=blue&api_token=s3cr3t",
        "https://app:***@h/app.yaml?api_token=***&profile=blue",
    ));
    for (uri, name) in cases {
        let provider = hotconf::provider_from_uri(uri).unwrap_or_else(|e| panic!("{uri}: {e}"));
        assert_eq!(provider.metadata().name, name, "{uri}");
        assert!(!provider.metadata().name.contains("s3cr3t"), "{uri}");
    }
}

#[test]
fn unknown_schemes_and_parameters_are_errors_without_credentials() {
    for (uri, says) in [
        ("ftp://user:s3cr3t@h/app", "unknown source scheme `ftp`"),
        (
            "nosuch://h/app?token=s3cr3t",
            "unknown source scheme `nosuch`",
        ),
        ("etcd://root:s3cr3t@h:99999/app/", "bad port"),
        #[cfg(feature = "etcd")]
        (
            "etcd://root:s3cr3t@h/app/?mdoe=key",
            "unknown parameter `mdoe`",
        ),
        #[cfg(feature = "consul")]
        ("consul://h/app/?token=s3cr3t&wait=soon", "wait"),
        #[cfg(feature = "consul")]
        ("consul://h1,h2/app/?token=s3cr3t", "exactly one"),
        #[cfg(feature = "nacos")]
        (
            "nacos://u:s3cr3t@h/app.yaml?grup=G",
            "unknown parameter `grup`",
        ),
        #[cfg(feature = "apollo")]
        (
            "apollo://h/app/application?secret=s3cr3t&clustr=C",
            "unknown parameter `clustr`",
        ),
        #[cfg(feature = "apollo")]
        ("apollo://h/app?secret=s3cr3t", "APP_ID/NAMESPACE"),
        #[cfg(feature = "file")]
        ("./app.toml?mode=dcuments", "unknown mode `dcuments`"),
        #[cfg(feature = "env")]
        ("env:", "needs a prefix"),
    ] {
        let err = match hotconf::provider_from_uri(uri) {
            Ok(_) => panic!("{uri} was accepted"),
            Err(err) => err,
        };
        assert_eq!(err.kind(), hotconf::ErrorKind::Config, "{uri}");
        let text = shown(&err);
        assert!(text.contains(says), "{uri}: {text}");
        assert!(!text.contains("s3cr3t"), "{uri}: {text}");
    }
}

#[cfg(not(feature = "etcd"))]
#[test]
fn a_disabled_backend_names_its_feature() {
    let err = hotconf::provider_from_uri("etcd://root:s3cr3t@h/app/")
        .err()
        .expect("refused");
    let text = shown(&err);
    assert!(text.contains("enable the `etcd` feature"), "{text}");
    assert!(!text.contains("s3cr3t"), "{text}");
}

/// What an application does for its own provider: a factory under its own scheme.
fn register_memory_scheme() {
    hotconf::register_scheme("Mem+Test", |uri: &SourceUri| {
        let mut query = uri.query();
        let label = query.get("label").unwrap_or("none").to_owned();
        let _key = query.secret("token");
        query.finish()?;
        let (provider, _handle) = MemoryProvider::new(format!("{uri} [{label}]"));
        Ok(Box::new(provider) as Box<dyn Provider>)
    })
    .unwrap();
}

#[test]
fn an_application_registers_its_own_scheme() {
    register_memory_scheme();
    let provider =
        hotconf::provider_from_uri("MEM+TEST://u:s3cr3t@h/app?label=x&token=t0k").unwrap();
    assert_eq!(
        provider.metadata().name,
        "mem+test://u:***@h/app?label=x&token=*** [x]"
    );
    let err = hotconf::provider_from_uri("mem+test://u:s3cr3t@h/app?lable=x")
        .err()
        .expect("a misspelt parameter");
    assert!(shown(&err).contains("unknown parameter `lable`"));
    assert!(!shown(&err).contains("s3cr3t"));
    // Registered schemes are listed when a scheme is unknown.
    let unknown = hotconf::provider_from_uri("other://h/x")
        .err()
        .expect("unknown");
    assert!(unknown.to_string().contains("mem+test"), "{unknown}");
}

#[test]
fn built_in_and_invalid_schemes_cannot_be_registered() {
    for scheme in [
        "file", "env", "etcd", "Consul", "nacos", "x", "1ab", "a-b", "",
    ] {
        let refused =
            hotconf::register_scheme(scheme, |_: &SourceUri| unreachable!("never called"));
        assert!(refused.is_err(), "{scheme}");
    }
}

/// An age-encrypted file is a secret layer by default; `?secret=false` (the registry's own
/// parameter) makes it an ordinary one. Its identity parameter is the file backend's.
#[cfg(feature = "age")]
#[test]
fn an_age_file_is_a_secret_layer_unless_the_uri_says_secret_false() {
    let provider =
        hotconf::provider_from_uri("file:/etc/app/app.yaml.age?identity=/etc/app/key.txt").unwrap();
    assert!(provider.metadata().secret);
    assert_eq!(provider.metadata().name, "file:/etc/app/app.yaml.age");
    let opted_out = hotconf::provider_from_uri("/etc/app/app.yaml.age?secret=false").unwrap();
    assert!(!opted_out.metadata().secret);
    let plain = hotconf::provider_from_uri("/etc/app/app.yaml").unwrap();
    assert!(!plain.metadata().secret);
    let Err(typo) = hotconf::provider_from_uri("/etc/app/app.yaml.age?identiy=key.txt") else {
        panic!("a misspelt parameter is refused");
    };
    assert!(
        shown(&typo).contains("unknown parameter `identiy`"),
        "{typo}"
    );
}

/// Without the `age` feature, asking for decryption is an error naming the feature.
#[cfg(all(feature = "file", not(feature = "age")))]
#[test]
fn age_parameters_without_the_feature_name_it() {
    for uri in [
        "/etc/app/app.yaml?age=true",
        "/etc/app/app.yaml.age?identity=key.txt",
    ] {
        let Err(error) = hotconf::provider_from_uri(uri) else {
            panic!("{uri} needs the age feature");
        };
        assert!(shown(&error).contains("`age` feature"), "{error}");
    }
}
