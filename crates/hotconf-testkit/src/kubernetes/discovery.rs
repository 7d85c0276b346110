//! What kubectl reads before it touches an object (backends.md §7.9): API discovery (the core
//! group, and `authentication.k8s.io/v1` for TokenReviews), the server version, and the OpenAPI
//! v3 documents `kubectl apply --validate=strict` asks whether PATCH takes `fieldValidation`
//! from. `/openapi/v2` is not served (kubectl only wants it as protobuf and tolerates its 404).

use serde_json::{json, Value};

use super::Resource;

/// The document served at `path`, `None` when discovery does not serve it.
pub(crate) fn document(path: &str, server: &str) -> Option<Value> {
    match path.trim_end_matches('/') {
        "/api" => Some(json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server}],
        })),
        "/apis" => Some(json!({
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [authentication_group()],
        })),
        "/apis/authentication.k8s.io" => {
            let mut group = authentication_group();
            group["kind"] = "APIGroup".into();
            group["apiVersion"] = "v1".into();
            Some(group)
        }
        "/apis/authentication.k8s.io/v1" => Some(json!({
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": "authentication.k8s.io/v1",
            "resources": [{
                "name": "tokenreviews",
                "singularName": "tokenreview",
                "namespaced": false,
                "kind": "TokenReview",
                "verbs": ["create"],
            }],
        })),
        "/api/v1" => Some(json!({
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": "v1",
            "resources": [resource(Resource::ConfigMaps, &["cm"]), resource(Resource::Secrets, &[])],
        })),
        "/version" => Some(json!({
            "major": "1",
            "minor": "32",
            "gitVersion": "v1.32.4-hotconf-emulator",
            "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean",
            "buildDate": "2025-01-01T00:00:00Z",
            "goVersion": "go1.23.6",
            "compiler": "gc",
            "platform": "linux/amd64",
        })),
        "/openapi/v3" => Some(json!({
            "paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1"}},
        })),
        "/openapi/v3/api/v1" => Some(openapi_v1()),
        _ => None,
    }
}

/// The `authentication.k8s.io` group (version v1 only), as `/apis` lists it.
fn authentication_group() -> Value {
    let v1 = json!({"groupVersion": "authentication.k8s.io/v1", "version": "v1"});
    json!({
        "name": "authentication.k8s.io",
        "versions": [v1],
        "preferredVersion": v1,
    })
}

fn resource(resource: Resource, short_names: &[&str]) -> Value {
    let plural = resource.to_string();
    json!({
        "name": plural,
        "singularName": plural.trim_end_matches('s'),
        "namespaced": true,
        "kind": resource.kind(),
        "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
        "shortNames": short_names,
    })
}

/// One path per resource whose `patch` operation names its group-version-kind, takes
/// `fieldValidation` and a strategic merge patch: what kubectl's query-parameter verifier
/// looks for.
fn openapi_v1() -> Value {
    let mut paths = serde_json::Map::new();
    for resource in [Resource::ConfigMaps, Resource::Secrets] {
        let patch = json!({
            "operationId": format!("patchCoreV1Namespaced{}", resource.kind()),
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": {"group": "", "version": "v1", "kind": resource.kind()},
            "parameters": [
                {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
                {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
            ],
            "requestBody": {"content": {
                "application/strategic-merge-patch+json": {"schema": {"type": "object"}},
                "application/merge-patch+json": {"schema": {"type": "object"}},
            }},
            "responses": {"200": {"description": "OK"}},
        });
        paths.insert(
            format!("/api/v1/namespaces/{{namespace}}/{resource}/{{name}}"),
            json!({"patch": patch}),
        );
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.4"},
        "paths": paths,
        "components": {"schemas": {}},
    })
}
