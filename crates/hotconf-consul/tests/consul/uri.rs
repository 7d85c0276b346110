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
    assert!(parse("consul://h/x/?tls=true").unwrap().tls.is_some());
    let typo = parse("consul://h/x/?consistensy=stale").unwrap_err();
    assert!(
        typo.to_string().contains("unknown parameter `consistensy`"),
        "{typo}"
    );
    // Every refused URI carries the token: its errors must not repeat it (Display, Debug and
    // the cause chain).
    for bad in [
        "consul://h:1/app/config?mode=key&token=s3cr3t",
        "consul://h:1/?token=s3cr3t",
        "consul://h:1,h:2/app/?token=s3cr3t",
        "consul://h:1/app/?token=s3cr3t&consistency=weird",
        "consul://h:1/app/?cert=/c.pem&token=s3cr3t",
        "consul://h:1/app/?wait=soon&token=s3cr3t",
        "consul://h:1/app/?mode=bogus&token=s3cr3t",
        "consul://h:1/app/config?format=nope&token=s3cr3t",
        "etcd://h:1/app/?token=s3cr3t",
        "consul://h:1/app/?tokne=x&token=s3cr3t",
        "consul://h:1/app/?password=s3cr3t",
        "consul:///app/?token=s3cr3t",
    ] {
        let uri: hotconf_core::provider::SourceUri = bad.parse().unwrap();
        assert!(bad.contains("s3cr3t"));
        let err = ConsulConfig::from_uri(&uri).unwrap_err();
        let mut text = format!("{err} {err:?} {uri} {uri:?}");
        let mut cause = std::error::Error::source(&err);
        while let Some(c) = cause {
            text.push_str(&format!(" {c} {c:?}"));
            cause = c.source();
        }
        assert!(!text.contains("s3cr3t"), "{text}");
    }
}
