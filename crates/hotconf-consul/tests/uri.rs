//! `consul://` URIs: modes, options, and the token never printed.

use hotconf_consul::{Consistency, ConsulConfig, Mode};
use hotconf_core::{Format, Result};

fn parse(s: &str) -> Result<ConsulConfig> {
    ConsulConfig::from_uri(&s.parse().unwrap())
}

#[test]
fn uris() {
    let c = parse("consul://127.0.0.1:8500/app?token=s3cr3t&dc=dc2&consistency=stale&wait=30s")
        .unwrap();
    assert_eq!((c.mode.clone(), c.path.as_str()), (Mode::Prefix, "app/"));
    assert_eq!(c.token.as_ref().unwrap().expose(), "s3cr3t");
    assert_eq!(
        (c.datacenter.as_deref(), c.consistency),
        (Some("dc2"), Consistency::Stale)
    );
    assert_eq!(c.wait, std::time::Duration::from_secs(30));
    assert_eq!(c.name(), "consul://127.0.0.1:8500/app/?mode=prefix&dc=dc2");
    assert!(!format!("{c:?}").contains("s3cr3t"));
    assert_eq!(
        parse("consul://h/app/config.yaml").unwrap().mode,
        Mode::Key(Format::Yaml)
    );
    assert_eq!(
        parse("consul://h:1/app/config?mode=key&format=json")
            .unwrap()
            .mode,
        Mode::Key(Format::Json)
    );
    assert_eq!(parse("consul://h/x/").unwrap().address, "h:8500");
    assert!(parse("consul://h/x/?ca=/ca.pem").unwrap().tls.is_some());
    for bad in [
        "consul://h:1/app/config?mode=key",
        "consul://h:1/",
        "consul://h:1,h:2/app/",
        "consul://h:1/app/?consistency=weird",
        "consul://h:1/app/?cert=/c.pem",
        "consul://h:1/app/?wait=soon",
        "etcd://h:1/app/",
    ] {
        let err = parse(bad).unwrap_err();
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
    }
}
