//! The TokenReview API (`POST /apis/authentication.k8s.io/v1/tokenreviews`), which Vault's and
//! OpenBao's Kubernetes auth call to check a service account token (backends.md §8.5): the
//! service accounts and tokens the emulator knows, and its answers.

use std::collections::{BTreeMap, HashMap};

use hyper::body::Incoming;
use hyper::{Method, Request};
use serde_json::{json, Value};

use super::http::{authenticated, failure, json_answer, json_body, Answer};
use super::jwt::{service_account_jwt, API_AUDIENCE};
use super::status::Status;
use super::{KubeEmulator, Shared};

/// The path of the TokenReview collection.
pub(crate) const TOKEN_REVIEWS: &str = "/apis/authentication.k8s.io/v1/tokenreviews";
/// The group and version of a TokenReview.
const API_VERSION: &str = "authentication.k8s.io/v1";
/// The error of a TokenReview for a token the emulator does not know.
const INVALID: &str = "invalid bearer token";

/// A registered token: whose it is and how often it was reviewed.
#[derive(Debug, Clone)]
struct Registered {
    namespace: String,
    name: String,
    reviews: u64,
}

/// The service accounts (by namespace and name, with their uids) and their tokens.
#[derive(Debug, Default)]
pub(crate) struct Accounts {
    uids: BTreeMap<(String, String), String>,
    tokens: HashMap<String, Registered>,
    /// uids handed out so far (never reused, across restarts too).
    issued: u64,
}

impl Accounts {
    fn uid(&mut self, namespace: &str, name: &str) -> String {
        let issued = &mut self.issued;
        self.uids
            .entry((namespace.to_owned(), name.to_owned()))
            .or_insert_with(|| {
                *issued += 1;
                format!("5e7f1c3a-0000-4000-8000-{:012x}", *issued)
            })
            .clone()
    }

    /// Forgets every service account and token (a restart that loses the state).
    pub(crate) fn wipe(&mut self) {
        self.uids.clear();
        self.tokens.clear();
    }
}

/// Answers a request on [`TOKEN_REVIEWS`]: 201 with the review, whether the token is known or
/// not; 405 for another method, 401 without the bearer token the emulator requires, 400 for a
/// body that is not a TokenReview with a token.
pub(crate) async fn serve(shared: &Shared, req: Request<Incoming>) -> Answer {
    if req.method() != Method::POST {
        return failure(&Status::method_not_allowed());
    }
    if !authenticated(shared, &req) {
        shared.count(|c| c.unauthorized += 1);
        return failure(&Status::unauthorized());
    }
    let review = match json_body(req).await.and_then(review_request) {
        Ok(review) => review,
        Err(status) => return failure(&status),
    };
    let token = review["spec"]["token"].as_str().unwrap_or_default();
    let audiences = match review["spec"]["audiences"].as_array() {
        Some(asked) if !asked.is_empty() => Value::Array(asked.clone()),
        _ => json!([API_AUDIENCE]),
    };
    let known = {
        let mut accounts = super::lock(&shared.accounts);
        let registered = accounts.tokens.get_mut(token).map(|r| {
            r.reviews += 1;
            r.clone()
        });
        registered.map(|r| {
            let uid = accounts.uid(&r.namespace, &r.name);
            (r, uid)
        })
    };
    let status = match &known {
        Some((account, uid)) => {
            let ns = &account.namespace;
            json!({
                "authenticated": true,
                "user": {
                    "username": format!("system:serviceaccount:{ns}:{}", account.name),
                    "uid": uid,
                    "groups": [
                        "system:serviceaccounts",
                        format!("system:serviceaccounts:{ns}"),
                        "system:authenticated",
                    ],
                },
                "audiences": audiences,
            })
        }
        None => json!({"user": {}, "error": INVALID}),
    };
    shared.count(|c| {
        c.token_reviews += 1;
        if known.is_none() {
            c.tokens_rejected += 1;
        }
    });
    json_answer(
        201,
        &json!({
            "kind": "TokenReview",
            "apiVersion": API_VERSION,
            "metadata": {"creationTimestamp": null},
            "spec": review["spec"],
            "status": status,
        }),
    )
}

/// The body, checked as a TokenReview: `kind` and `apiVersion` may be left out (Go clients
/// leave them empty), but not be another; `spec.token` is required.
fn review_request(body: Value) -> Result<Value, Status> {
    if !body.is_object() {
        return Err(Status::bad_request("a TokenReview must be a JSON object"));
    }
    for (field, want) in [("kind", "TokenReview"), ("apiVersion", API_VERSION)] {
        match body.get(field) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s.is_empty() || s == want => {}
            Some(other) => {
                return Err(Status::bad_request(format!(
                    "the body's {field} is {other}, not {want:?}"
                )))
            }
        }
    }
    match body["spec"]["token"].as_str() {
        Some(token) if !token.is_empty() => Ok(body),
        _ => Err(Status::bad_request(
            "token is required for TokenReview in authentication",
        )),
    }
}

impl KubeEmulator {
    /// The uid of the service account `namespace/name`, which it gets when first named here
    /// and keeps (a restart without state forgets it; the account named again gets a new one).
    pub fn service_account_uid(&self, namespace: &str, name: &str) -> String {
        super::lock(&self.shared.accounts).uid(namespace, name)
    }

    /// Registers `token` as a token of the service account `namespace/name`: a TokenReview of
    /// it answers `authenticated: true` with the account's username
    /// (`system:serviceaccount:NAMESPACE:NAME`), uid ([`service_account_uid`]) and groups.
    ///
    /// [`service_account_uid`]: Self::service_account_uid
    pub fn add_service_account_token(&self, namespace: &str, name: &str, token: &str) {
        let mut accounts = super::lock(&self.shared.accounts);
        accounts.uid(namespace, name);
        accounts.tokens.insert(
            token.to_owned(),
            Registered {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
                reviews: 0,
            },
        );
    }

    /// Issues a new token for the service account `namespace/name`, as the TokenRequest API
    /// does for the kubelet: a [`service_account_jwt`] with the account's uid, registered.
    pub fn issue_service_account_token(&self, namespace: &str, name: &str) -> String {
        let uid = self.service_account_uid(namespace, name);
        let token = service_account_jwt(namespace, name, &uid);
        self.add_service_account_token(namespace, name, &token);
        token
    }

    /// Revokes `token`: from now on a TokenReview of it answers `authenticated: false`.
    /// Returns whether it was registered.
    pub fn remove_service_account_token(&self, token: &str) -> bool {
        super::lock(&self.shared.accounts)
            .tokens
            .remove(token)
            .is_some()
    }

    /// How many TokenReviews asked about `token` while it was registered.
    pub fn token_reviews_of(&self, token: &str) -> u64 {
        super::lock(&self.shared.accounts)
            .tokens
            .get(token)
            .map_or(0, |r| r.reviews)
    }
}
