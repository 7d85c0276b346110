//! hotconf's layered merge gives figment's merge of the same layers: the merge function, and a
//! whole reloader (which deserializes from the layers in place, without the merged tree).

use figment::providers::{Format as _, Json};
use figment::Figment;
use hotconf::{Format, MemoryProvider, Reloader};
use proptest::prelude::*;
use serde_json::Value;

use crate::strategies::{self, config};

/// figment's merge of JSON documents, lowest first.
fn figment_merge(layers: &[Value]) -> Result<Value, String> {
    layers
        .iter()
        .fold(Figment::new(), |f, layer| {
            f.merge(Json::string(&layer.to_string()))
        })
        .extract()
        .map_err(|e| e.to_string())
}

/// A reloader over one JSON `MemoryProvider` per layer: its config and its merged tree.
pub fn reloader_merge(layers: &[Value]) -> Result<(Value, Value), String> {
    let runtime = crate::runtime();
    runtime.block_on(async {
        let mut builder = Reloader::<Value>::builder();
        let mut handles = Vec::new();
        for (i, layer) in layers.iter().enumerate() {
            let (provider, handle) = MemoryProvider::new(format!("memory:layer{i}"));
            handle.set_document(Format::Json, layer.to_string());
            builder = builder.layer(provider);
            handles.push(handle);
        }
        let reloader = builder.start().await.map_err(|e| e.to_string())?;
        let snapshot = reloader.store().get();
        Ok((snapshot.config().clone(), snapshot.merged().clone()))
    })
}

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn merge_all_equals_figment(layers in prop::collection::vec(strategies::merge_layer(), 2..=4)) {
        // Both read the same JSON text (serde_json reads some floats inexactly: see formats.rs).
        let parsed = layers
            .iter()
            .map(|l| crate::formats::parse(Format::Json, &l.to_string()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(TestCaseError::fail)?;
        let ours = hotconf::internals::merge_all(parsed.iter());
        prop_assert_eq!(Ok(ours), figment_merge(&layers), "layers: {:?}", layers);
    }

    #[test]
    fn a_reloader_over_the_layers_equals_figment(
        layers in prop::collection::vec(strategies::merge_layer(), 2..=4),
    ) {
        let want = figment_merge(&layers).map_err(TestCaseError::fail)?;
        let (config, merged) = reloader_merge(&layers).map_err(TestCaseError::fail)?;
        prop_assert_eq!(&config, &want, "the config; layers: {:?}", layers);
        prop_assert_eq!(&merged, &want, "Snapshot::merged(); layers: {:?}", layers);
    }

    /// A TOML layer under a YAML layer gives the merge of the trees they were written from.
    #[test]
    fn the_format_of_a_layer_does_not_change_the_merge(
        low in strategies::tree(),
        high in strategies::tree(),
    ) {
        let runtime = crate::runtime();
        let got = runtime.block_on(async {
            let (low_p, low_h) = MemoryProvider::new("memory:low");
            low_h.set_document(Format::Toml, toml::to_string(&low).unwrap());
            let (high_p, high_h) = MemoryProvider::new("memory:high");
            high_h.set_document(Format::Yaml, serde_yaml_ng::to_string(&high).unwrap());
            let reloader = Reloader::<Value>::builder().layer(low_p).layer(high_p).start().await;
            reloader.map(|r| r.store().get().config().clone()).map_err(|e| e.to_string())
        });
        let want = hotconf::internals::merge_all([&low, &high]);
        prop_assert_eq!(got, Ok(want), "low: {:?}, high: {:?}", low, high);
    }
}
